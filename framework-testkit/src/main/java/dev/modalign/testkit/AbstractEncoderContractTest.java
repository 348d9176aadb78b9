package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.InputSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Encoder} must do: map a batch of its input to [B, D] (and tokens where it says
 * so), with finite gradients for every parameter, deterministically for a seed.
 *
 * @param <P> the encoder's parameter record
 */
public abstract class AbstractEncoderContractTest<P extends Record> extends PluginContract {

    protected abstract ComponentFactory<P, Encoder> factory();

    protected abstract P params();

    /** The input the encoder is built for. */
    protected abstract InputSpec input();

    /** A batch of that input, as the modality would collate it. */
    protected abstract NDList batch(NDManager manager, int batchSize);

    protected NDManager manager;

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return factory();
    }

    protected Encoder newEncoder(long seed, NDList sample) {
        Engine.getInstance().setRandomSeed((int) seed);
        Encoder encoder = factory().create(params(), TestContext.builder().optSeed(seed).optInput(input()).build());
        encoder.block().initialize(manager, DataType.FLOAT32, sample.getShapes());
        return encoder;
    }

    @Test
    void embeddingHasTheDeclaredShape() {
        NDList batch = batch(manager, 4);
        Encoder encoder = newEncoder(1, batch);
        NDList out = encoder.block().forward(new ParameterStore(manager, false), batch, false);
        assertEquals(new Shape(4, encoder.embedDim()), out.get(0).getShape(), "embedding shape");
        if (encoder.tokenFeatures()) {
            assertTrue(out.size() >= 3, "an encoder with token features returns embedding, tokens and mask");
            assertEquals(3, out.get(1).getShape().dimension(), "tokens are [B, T, D]");
            assertEquals(encoder.embedDim(), out.get(1).getShape().get(2), "token feature size");
            assertEquals(out.get(1).getShape().get(1), out.get(2).getShape().get(1), "mask length matches tokens");
        }
        Tensors.assertFinite(out.get(0), "embedding");
    }

    @Test
    void everyTrainableParameterGetsAFiniteGradient() {
        NDList batch = batch(manager, 4);
        Encoder encoder = newEncoder(1, batch);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDList out = encoder.block().forward(new ParameterStore(manager, false), batch, true);
            collector.backward(out.get(0).square().sum());
        }
        for (Pair<String, Parameter> entry : encoder.block().getParameters()) {
            Parameter parameter = entry.getValue();
            if (parameter.requiresGradient()) {
                NDArray gradient = parameter.getArray().getGradient();
                Tensors.assertFinite(gradient, "gradient of " + entry.getKey());
            }
        }
    }

    @Test
    void gradientsSurviveAGarbageCollectionBetweenForwardAndBackward() {
        java.util.Map<String, float[]> plain = gradients(false);
        java.util.Map<String, float[]> collected = gradients(true);
        for (java.util.Map.Entry<String, float[]> entry : plain.entrySet()) {
            Tensors.assertClose(entry.getValue(), collected.get(entry.getKey()), 0, "gradient of " + entry.getKey() + ": "
                    + Tensors.GARBAGE_ADVICE);
        }
    }

    private java.util.Map<String, float[]> gradients(boolean collectGarbage) {
        java.util.Map<String, float[]> gradients = new java.util.LinkedHashMap<>();
        Engine.getInstance().setRandomSeed(23);
        NDList batch = batch(manager, 4);
        Encoder encoder = newEncoder(1, batch);
        Object scribbles = null;
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDList out = encoder.block().forward(new ParameterStore(manager, false), batch, true);
            if (collectGarbage) {
                scribbles = Tensors.collectGarbageAndScribble();
            }
            collector.backward(out.get(0).square().sum());
        }
        for (Pair<String, Parameter> entry : encoder.block().getParameters()) {
            if (entry.getValue().requiresGradient()) {
                gradients.put(entry.getKey(), entry.getValue().getArray().getGradient().toFloatArray());
            }
        }
        java.lang.ref.Reference.reachabilityFence(scribbles);
        return gradients;
    }

    @Test
    void sameSeedSameEmbedding() {
        NDList batch = batch(manager, 4);
        float[] first = newEncoder(5, batch).block().forward(new ParameterStore(manager, false), batch, false)
                .get(0).toFloatArray();
        float[] second = newEncoder(5, batch).block().forward(new ParameterStore(manager, false), batch, false)
                .get(0).toFloatArray();
        assertArrayEquals(first, second, 1e-6f, "two encoders built with the same seed differ");
    }

    @Test
    void batchOfOneWorks() {
        NDList sample = batch(manager, 4);
        Encoder encoder = newEncoder(1, sample);
        NDList out = encoder.block().forward(new ParameterStore(manager, false), batch(manager, 1), false);
        assertEquals(new Shape(1, encoder.embedDim()), out.get(0).getShape());
    }
}
