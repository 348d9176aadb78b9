package dev.modalign.core.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import dev.modalign.api.Encoder;
import dev.modalign.core.compose.Tower;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The momentum update theta_k = m theta_k + (1 - m) theta_q, bit for bit against the same arithmetic done in
 * Java floats, over several steps in which the followed tower moves (as the optimiser moves it).
 */
class MomentumTowersTest {

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private Tower tower(String name, String momentumOf, double momentum, int units, int inputs) {
        Block block = Linear.builder().setUnits(units).build();
        block.initialize(manager, DataType.FLOAT32, new Shape(2, inputs));
        Encoder encoder = new Encoder() {
            @Override
            public Block block() {
                return block;
            }

            @Override
            public int embedDim() {
                return units;
            }
        };
        return new Tower(name, name, null, List.of(), encoder, momentumOf != null, null, momentumOf, momentum);
    }

    private static List<NDArray> arrays(Tower tower) {
        List<NDArray> arrays = new ArrayList<>();
        tower.encoder().block().getParameters().forEach(p -> arrays.add(p.getValue().getArray()));
        return arrays;
    }

    @Test
    void theMomentumCopyStartsAsItsTowerAndThenFollowsTheUpdateRuleBitForBit() {
        double m = 0.993;
        Tower online = tower("text", null, 0, 5, 3);
        Tower key = tower("text_m", "text", m, 5, 3);
        Tower other = tower("image", null, 0, 5, 3);
        MomentumTowers momentum = MomentumTowers.of(List.of(online, key, other));
        assertFalse(momentum.isEmpty());
        momentum.copyOnline();
        List<float[]> expected = new ArrayList<>();
        for (int i = 0; i < arrays(key).size(); i++) {
            assertArrayEquals(arrays(online).get(i).toFloatArray(), arrays(key).get(i).toFloatArray(), 0f);
            expected.add(arrays(online).get(i).toFloatArray());
        }
        float mf = (float) m;
        float oneMinusM = (float) (1 - m);
        Random random = new Random(5);
        for (int step = 0; step < 4; step++) {
            // The optimiser moves the online tower; then the update runs.
            for (NDArray q : arrays(online)) {
                float[] moved = q.toFloatArray();
                for (int j = 0; j < moved.length; j++) {
                    moved[j] += (float) random.nextGaussian() * 0.1f;
                }
                q.set(moved);
            }
            momentum.update();
            for (int i = 0; i < expected.size(); i++) {
                float[] q = arrays(online).get(i).toFloatArray();
                float[] k = expected.get(i);
                for (int j = 0; j < k.length; j++) {
                    k[j] = mf * k[j] + oneMinusM * q[j];
                }
                float[] actual = arrays(key).get(i).toFloatArray();
                for (int j = 0; j < k.length; j++) {
                    assertEquals(Float.floatToIntBits(k[j]), Float.floatToIntBits(actual[j]),
                            "step " + step + " parameter " + i + " value " + j + ": " + k[j] + " by the rule, "
                                    + actual[j] + " updated");
                }
            }
        }
        // The tower that is not followed is untouched.
        assertEquals(List.of("text_m"), List.of(key.name()));
    }

    @Test
    void aCopyWhoseEncoderDiffersIsRefusedNamingBothTowers() {
        Tower online = tower("text", null, 0, 5, 3);
        Tower key = tower("text_m", "text", 0.9, 4, 3);
        IllegalStateException error = assertThrows(IllegalStateException.class,
                () -> MomentumTowers.of(List.of(online, key)));
        assertEquals(true, error.getMessage().contains("'text_m'") && error.getMessage().contains("'text'"),
                error.getMessage());
    }
}
