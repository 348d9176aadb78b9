package dev.modalign.plugins.encoders;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.VectorSpec;
import dev.modalign.testkit.AbstractEncoderContractTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code mlp} on vectors (the contract), and on images. Token input: {@link MlpEncoderOnTokensTest}. */
class MlpEncoderTest extends AbstractEncoderContractTest<MlpEncoder.Params> {

    @Override
    protected ComponentFactory<MlpEncoder.Params, Encoder> factory() {
        return MlpEncoder.FACTORY;
    }

    @Override
    protected MlpEncoder.Params params() {
        return new MlpEncoder.Params(List.of(32, 16), 8);
    }

    @Override
    protected InputSpec input() {
        return new VectorSpec(10);
    }

    @Override
    protected NDList batch(NDManager manager, int batchSize) {
        return new NDList(manager.randomNormal(new Shape(batchSize, 10)));
    }

    private Encoder build(MlpEncoder.Params params, InputSpec input, NDList sample) {
        Engine.getInstance().setRandomSeed(3);
        Encoder encoder = factory().create(params, TestContext.builder().optInput(input).build());
        encoder.block().initialize(manager, DataType.FLOAT32, sample.getShapes());
        return encoder;
    }

    @Test
    void flattensImages() {
        NDList images = new NDList(manager.randomUniform(0, 1, new Shape(3, 2, 4, 4)));
        Encoder encoder = build(params(), new ImageSpec(2, 4, 4), images);
        NDList out = encoder.block().forward(new ParameterStore(manager, false), images, false);
        assertEquals(new Shape(3, 8), out.get(0).getShape());
        // The first layer sees every pixel: its weight is [32, C*H*W].
        assertEquals(new Shape(32, 2 * 4 * 4), encoder.block().getParameters().get(0).getValue().getArray().getShape());
    }

    @Test
    void withoutHiddenLayersItIsALinearMap() {
        NDList sample = batch(manager, 4);
        Encoder encoder = build(new MlpEncoder.Params(List.of(), 8), input(), sample);
        ParameterStore store = new ParameterStore(manager, false);
        NDList x = batch(manager, 4);
        NDList y = batch(manager, 4);
        // f(x + y) = f(x) + f(y) - f(0) holds for an affine map and for no ReLU network in general.
        float[] sum = encoder.block().forward(store, new NDList(x.get(0).add(y.get(0))), false).get(0).toFloatArray();
        float[] fx = encoder.block().forward(store, x, false).get(0).toFloatArray();
        float[] fy = encoder.block().forward(store, y, false).get(0).toFloatArray();
        float[] f0 = encoder.block().forward(store, new NDList(manager.zeros(new Shape(4, 10))), false).get(0)
                .toFloatArray();
        for (int i = 0; i < sum.length; i++) {
            assertEquals(fx[i] + fy[i] - f0[i], sum[i], 1e-4, "component " + i);
        }
    }

    @Test
    void outputDependsOnTheInput() {
        NDList sample = batch(manager, 4);
        Encoder encoder = build(params(), input(), sample);
        ParameterStore store = new ParameterStore(manager, false);
        float[] first = encoder.block().forward(store, sample, false).get(0).toFloatArray();
        float[] second = encoder.block().forward(store, new NDList(sample.get(0).mul(-2)), false).get(0)
                .toFloatArray();
        assertTrue(TransformerEncoderTest.maxAbsDifference(first, second) > 1e-3, "another input, same output");
    }

    @Test
    void parametersAreValidatedByKey() {
        assertEquals("hidden", assertThrows(InvalidParamException.class,
                () -> new MlpEncoder.Params(List.of(64, 0), 8)).key());
        assertEquals("embed_dim", assertThrows(InvalidParamException.class,
                () -> new MlpEncoder.Params(List.of(64), -1)).key());
    }
}
