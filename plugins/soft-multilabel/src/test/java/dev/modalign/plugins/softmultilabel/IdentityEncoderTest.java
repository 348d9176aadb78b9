package dev.modalign.plugins.softmultilabel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.NoParams;
import dev.modalign.api.TokenSpec;
import dev.modalign.api.VectorSpec;
import dev.modalign.testkit.PluginContract;
import dev.modalign.testkit.TestContext;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The identity encoder: named, documented and loadable like every component (PluginContract), its
 * embedding the input itself for any batch size. The test kit's AbstractEncoderContractTest does not
 * fit an encoder without parameters: it back-propagates from the embedding, which has no graph here.
 */
class IdentityEncoderTest extends PluginContract {

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return SoftMultilabelPlugin.IDENTITY;
    }

    @Test
    void theEmbeddingIsTheInputForAnyBatchSizeWithoutParameters() {
        Encoder encoder = SoftMultilabelPlugin.IDENTITY.create(new NoParams(),
                TestContext.builder().optInput(new VectorSpec(7)).build());
        assertEquals(7, encoder.embedDim());
        try (NDManager manager = NDManager.newBaseManager()) {
            encoder.block().initialize(manager, DataType.FLOAT32, new Shape(4, 7));
            assertEquals(0, encoder.block().getParameters().size(), "identity has no parameters");
            for (int batchSize : new int[] {1, 4}) {
                NDArray input = manager.randomUniform(0, 1, new Shape(batchSize, 7));
                NDList out = encoder.block().forward(new ParameterStore(manager, false), new NDList(input), true);
                assertEquals(new Shape(batchSize, 7), out.singletonOrThrow().getShape());
                assertArrayEquals(input.toFloatArray(), out.singletonOrThrow().toFloatArray());
            }
        }
    }

    @Test
    void refusesInputThatIsNotAVector() {
        InvalidParamException error = assertThrows(InvalidParamException.class, () -> SoftMultilabelPlugin.IDENTITY
                .create(new NoParams(), TestContext.builder().optTowers(List.of("text"), 4)
                        .optInput(new TokenSpec(10, 8, 0, 1)).build()));
        assertEquals("type", error.key());
        assertTrue(error.getMessage().contains("tower 'text' has tokens"), error.getMessage());
    }
}
