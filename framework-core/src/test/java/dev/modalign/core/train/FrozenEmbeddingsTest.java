package dev.modalign.core.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.TowerOutput;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Frozen towers' outputs held per distinct input and served back exactly. */
class FrozenEmbeddingsTest {

    private final NDManager manager = NDManager.newBaseManager("PyTorch");

    @AfterEach
    void close() {
        manager.close();
    }

    private TowerOutput embeddings(float[][] rows) {
        float[] flat = new float[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * rows[0].length, rows[0].length);
        }
        return new TowerOutput(manager.create(flat, new Shape(rows.length, rows[0].length)));
    }

    @Test
    void aBatchIsServedOnlyWhenEveryRowIsHeldAndInTheBatchsOrder() {
        FrozenEmbeddings held = new FrozenEmbeddings(1 << 20);
        held.store("t", List.of("a.png", "b.png"), embeddings(new float[][] {{1, 2}, {3, 4}}));
        assertNull(held.lookup("t", List.of("a.png", "c.png"), manager), "c.png was never encoded");
        assertNull(held.lookup("other", List.of("a.png"), manager), "another tower holds nothing");

        TowerOutput served = held.lookup("t", List.of("b.png", "a.png", "b.png"), manager);
        assertArrayEquals(new float[] {3, 4, 1, 2, 3, 4}, served.embedding().toFloatArray());
        assertEquals(new Shape(3, 2), served.embedding().getShape());
        assertNull(served.tokens());
        assertEquals(2, held.held("t"));
        assertEquals(1, held.served("t"));
    }

    @Test
    void rawValuesCompareByContentArraysIncluded() {
        FrozenEmbeddings held = new FrozenEmbeddings(1 << 20);
        held.store("t", List.of(new float[] {0.5f, 1f}, new byte[] {7, 8}, java.nio.file.Path.of("/data/images/1.png")),
                embeddings(new float[][] {{1, 2}, {3, 4}, {5, 6}}));
        TowerOutput served = held.lookup("t", List.of(java.nio.file.Path.of("/data/images/1.png"), new byte[] {7, 8},
                new float[] {0.5f, 1f}), manager);
        assertArrayEquals(new float[] {5, 6, 3, 4, 1, 2}, served.embedding().toFloatArray());
        // Values that compare by identity only would never be found again: not held at all.
        held.store("u", List.of(new Object()), embeddings(new float[][] {{1, 2}}));
        assertEquals(0, held.held("u"));
    }

    @Test
    void tokensOfDifferentLengthsArePaddedWithAZeroMask() {
        FrozenEmbeddings held = new FrozenEmbeddings(1 << 20);
        // Batch 1: one row of 3 tokens (dim 2), the last one padding. Batch 2: one row of 1 token.
        held.store("t", List.of("long caption"), new TowerOutput(manager.create(new float[] {1, 1}, new Shape(1, 2)),
                manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(1, 3, 2)),
                manager.create(new boolean[] {true, true, false}, new Shape(1, 3))));
        held.store("t", List.of("short"), new TowerOutput(manager.create(new float[] {2, 2}, new Shape(1, 2)),
                manager.create(new float[] {9, 9}, new Shape(1, 1, 2)), manager.create(new boolean[] {true}, new Shape(1, 1))));

        TowerOutput served = held.lookup("t", List.of("short", "long caption"), manager);
        assertEquals(new Shape(2, 3, 2), served.tokens().getShape());
        assertArrayEquals(new float[] {9, 9, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6}, served.tokens().toFloatArray());
        assertEquals(DataType.BOOLEAN, served.tokenMask().getDataType(), "the mask keeps the encoder's type");
        assertArrayEquals(new boolean[] {true, false, false, true, true, false}, served.tokenMask().toBooleanArray());
    }

    @Test
    void holdingStopsAtTheBudgetAndTheRestIsEncodedEveryTime() {
        FrozenEmbeddings held = new FrozenEmbeddings(4);
        held.store("t", List.of("a", "b", "c"), embeddings(new float[][] {{1, 2}, {3, 4}, {5, 6}}));
        assertEquals(2, held.held("t"), "two rows of two floats fill a budget of four");
        assertNull(held.lookup("t", List.of("c"), manager));
        assertArrayEquals(new float[] {1, 2}, held.lookup("t", List.of("a"), manager).embedding().toFloatArray());
    }
}
