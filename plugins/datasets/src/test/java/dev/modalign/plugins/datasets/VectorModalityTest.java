package dev.modalign.plugins.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.DataException;
import dev.modalign.testkit.TestContext;
import java.util.List;
import org.junit.jupiter.api.Test;

class VectorModalityTest {

    private final VectorModality modality = new VectorModality(new VectorModality.Params(3), TestContext.builder().build());

    @Test
    void collatesRowsInOrderIntoTheEngineArray() {
        float[] first = {1, 2, 3};
        float[] second = {-4, 0.5f, 6};
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList batch = modality.collate(List.of(first, second), manager);
            assertArrayEquals(new float[] {1, 2, 3, -4, 0.5f, 6}, batch.singletonOrThrow().toFloatArray());
        }
    }

    @Test
    void passesFloatArraysThroughAndParsesText() {
        float[] values = {1, 2, 3};
        assertSame(values, modality.decode(values, "test"), "no copy of a float[]");
        assertArrayEquals(new float[] {1, 2.5f, -3}, modality.decode("[1, 2.5, -3]", "test"));
        assertArrayEquals(new float[] {4, 5, 6}, modality.decode("4 5\t6", "test"));
        assertArrayEquals(new float[] {0.5f, -1, 2}, modality.decode(new double[] {0.5, -1, 2}, "test"));
    }

    @Test
    void aVectorOfAnotherLengthNamesBothLengths() {
        DataException error = assertThrows(DataException.class, () -> modality.decode(new float[4], "rows.csv:3 x"));
        assertTrue(error.getMessage().startsWith("rows.csv:3 x: a vector of 4 values"), error.getMessage());
        assertTrue(error.getMessage().contains("size is 3"), error.getMessage());
    }
}
