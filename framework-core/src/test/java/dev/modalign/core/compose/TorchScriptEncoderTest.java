package dev.modalign.core.compose;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import dev.modalign.api.Encoder;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A TorchScript module as a tower's encoder (init_from: torchscript:), on the modules that
 * framework-core/src/test/python/make_torchscript.py wrote with torch: y = x W^T + b with W[i][j] = (i - j) / 10
 * and b[i] = i / 10.
 */
public class TorchScriptEncoderTest {

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    public static Path resource(String name) {
        try {
            return Path.of(TorchScriptEncoderTest.class.getResource("/torchscript/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Encoder declared(int embedDim) {
        return new Encoder() {
            @Override
            public Block block() {
                throw new AssertionError("the declared encoder's block is not used");
            }

            @Override
            public int embedDim() {
                return embedDim;
            }
        };
    }

    @Test
    void theModuleIsTheTowersEncoderFrozenAndGivesTheEmbeddingsItComputes() {
        TorchScriptEncoder encoder = new TorchScriptEncoder(resource("linear8.pt"), "a", declared(8));
        Block block = encoder.block();
        block.initialize(manager, DataType.FLOAT32, new Shape(3, 8));
        block.freezeParameters(true);
        float[][] x = new float[3][8];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 8; c++) {
                x[r][c] = (float) Math.sin(r * 8 + c);
            }
        }
        NDArray out = block.forward(new ParameterStore(manager, false), new NDList(manager.create(x)), true).head();
        assertEquals(new Shape(3, 8), out.getShape());
        float[] actual = out.toFloatArray();
        for (int r = 0; r < 3; r++) {
            for (int i = 0; i < 8; i++) {
                double expected = i / 10.0;
                for (int j = 0; j < 8; j++) {
                    expected += (i - j) / 10.0 * x[r][j];
                }
                assertEquals(expected, actual[r * 8 + i], 1e-5, "row " + r + " output " + i);
            }
        }
        assertFalse(block.getParameters().isEmpty(), "the module's weights are the tower's, saved in checkpoints");
        block.getParameters().forEach(p -> assertFalse(p.getValue().requiresGradient(), p.getKey() + " is frozen"));
    }

    @Test
    void aModuleWhoseOutputDoesNotFitTheDeclaredEmbedDimIsRefusedNamingTheFileAndTheShapes() {
        Path file = resource("linear8to4.pt");
        Block block = new TorchScriptEncoder(file, "text", declared(8)).block();
        block.initialize(manager, DataType.FLOAT32, new Shape(2, 8));
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> block.forward(new ParameterStore(manager, false), new NDList(manager.ones(new Shape(2, 8))), true));
        String message = error.getMessage();
        assertTrue(message.startsWith("towers.text.init_from: the TorchScript module " + file), message);
        assertTrue(message.contains("(float32(2, 8))") && message.contains("float32 [B, 8]")
                && message.contains("it returned float32(2, 4)"), message);
        IllegalArgumentException wrongInput = assertThrows(IllegalArgumentException.class,
                () -> block.forward(new ParameterStore(manager, false), new NDList(manager.ones(new Shape(2, 5))), true));
        assertTrue(wrongInput.getMessage().contains("(float32(2, 5))") && wrongInput.getMessage().contains("it failed"),
                wrongInput.getMessage());
    }

    @Test
    void aMissingOrBrokenFileIsNamed() {
        Path missing = resource("linear8.pt").resolveSibling("nope.pt");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> new TorchScriptEncoder(missing, "a", declared(8)).block().initialize(manager, DataType.FLOAT32,
                        new Shape(2, 8)));
        assertTrue(error.getMessage().contains("no TorchScript file " + missing), error.getMessage());
    }
}
