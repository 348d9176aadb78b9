package dev.modalign.core.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Evaluation token features of batches padded to different lengths are joined with zero padding. */
class ConcatPaddedTest {

    @Test
    void batchesOfDifferentLengthsArePaddedWithZerosToTheLongest() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray first = manager.create(new float[] {1, 2, 3, 4}, new Shape(1, 2, 2)); // T = 2
            NDArray second = manager.create(new float[] {5, 6, 7, 8, 9, 10}, new Shape(1, 3, 2)); // T = 3
            NDArray tokens = Trainer.concatPadded(List.of(first, second));
            assertEquals(new Shape(2, 3, 2), tokens.getShape());
            assertArrayEquals(new float[] {1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 9, 10}, tokens.toFloatArray());

            NDArray masks = Trainer.concatPadded(List.of(manager.create(new float[] {1, 1}, new Shape(1, 2)),
                    manager.create(new float[] {1, 1, 0, 1, 0, 0}, new Shape(2, 3))));
            assertEquals(new Shape(3, 3), masks.getShape());
            assertArrayEquals(new float[] {1, 1, 0, 1, 1, 0, 1, 0, 0}, masks.toFloatArray());
        }
    }
}
