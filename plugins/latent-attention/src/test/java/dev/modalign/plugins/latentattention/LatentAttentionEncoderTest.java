package dev.modalign.plugins.latentattention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** Latent attention pooling: padding changes nothing, shapes, the mean of its tokens, gradients to the latents. */
class LatentAttentionEncoderTest extends ManagerPerTest {

    static final LatentAttentionEncoder.Params PARAMS =
            new LatentAttentionEncoder.Params(16, 1, 2, 2.0, 0.0, 12, 12, 2, 2.0);

    @Test
    void paddingAndWhatItHoldsChangeNoEmbedding() {
        Encoder encoder = build(10);
        int[][] texts = {{1, 7, 9, 12}, {1, 30}, {1, 4, 4, 4, 8, 41, 3}};
        float[] together = encode(encoder, collate(texts, 10, 0));
        Tensors.assertClose(together, encode(encoder, collate(texts, 10, 33)), 0, "ids in padded positions");
        for (int i = 0; i < texts.length; i++) {
            float[] alone = encode(encoder, collate(new int[][] {texts[i]}, texts[i].length, 0));
            Tensors.assertClose(Arrays.copyOfRange(together, 12 * i, 12 * i + 12), alone, 1e-5,
                    "text " + i + " alone, without padding");
        }
    }

    @Test
    void theEmbeddingIsTheMeanOfTheRealTokensAfterTheMlp() {
        Encoder encoder = build(10);
        NDList texts = collate(new int[][] {{1, 7, 9}, {1, 30, 31, 32, 33}}, 6, 0);
        NDList out = encoder.block().forward(new ParameterStore(manager, false), texts, false);
        assertEquals(new Shape(2, 12), out.get(0).getShape());
        assertEquals(new Shape(2, 6, 12), out.get(1).getShape());
        assertEquals(new Shape(2, 6), out.get(2).getShape());
        Tensors.assertClose(out.get(1).get(new NDIndex("0, 0:3")).mean(new int[] {0}).toFloatArray(),
                out.get(0).get(0).toFloatArray(), 1e-5, "text 0: the mean of its 3 tokens");
        Tensors.assertClose(out.get(1).get(new NDIndex("1, 0:5")).mean(new int[] {0}).toFloatArray(),
                out.get(0).get(1).toFloatArray(), 1e-5, "text 1: the mean of its 5 tokens");
    }

    @Test
    void theLatentsShapeTheEmbeddingAndReceiveGradient() {
        Encoder encoder = build(10);
        NDList texts = randomTexts(manager, 4, 8);
        Parameter latents = latents(encoder);
        assertEquals(new Shape(12, 12), latents.getArray().getShape());
        float[] before = encode(encoder, texts);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray embedding = encoder.block().forward(new ParameterStore(manager, false), texts, true).get(0);
            collector.backward(embedding.square().sum());
        }
        NDArray gradient = latents.getArray().getGradient();
        Tensors.assertFinite(gradient, "gradient of the latents");
        assertTrue(gradient.abs().sum().getFloat() > 0, "no gradient reached the latents");
        // Another latent array gives other embeddings: the pooling reads them.
        latents.getArray().set(manager.randomNormal(new Shape(12, 12)).toFloatArray());
        assertTrue(maxAbsDifference(before, encode(encoder, texts)) > 1e-4, "the latents do not matter");
    }

    @Test
    void rejectsBadParametersAndNonTokenInput() {
        assertEquals("latent_heads", assertThrows(InvalidParamException.class,
                () -> new LatentAttentionEncoder.Params(16, 1, 2, 2.0, 0.0, 12, 12, 5, 2.0)).key());
        assertEquals("latents", assertThrows(InvalidParamException.class,
                () -> new LatentAttentionEncoder.Params(16, 1, 2, 2.0, 0.0, 12, 0, 2, 2.0)).key());
        assertEquals("embed_dim", assertThrows(InvalidParamException.class,
                () -> new LatentAttentionEncoder.Params(16, 1, 2, 2.0, 0.0, 0, 12, 2, 2.0)).key());
        InvalidParamException error = assertThrows(InvalidParamException.class, () -> new LatentAttentionEncoder(
                PARAMS, TestContext.builder().optInput(new ImageSpec(3, 8, 8)).optTowers(List.of("image"), 12).build()));
        assertEquals("type", error.key());
    }

    @Test
    void pluginIsFoundByServiceLoader() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("latent-attention")).findFirst().orElseThrow();
        assertInstanceOf(LatentAttentionPlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertTrue(plugin.encoders().stream().anyMatch(f -> f.name().equals("transformer-latent-attention")
                && f.description().contains("NV-Embed")));
    }

    private static Parameter latents(Encoder encoder) {
        for (Pair<String, Parameter> entry : encoder.block().getParameters()) {
            if (entry.getKey().endsWith("latents")) {
                return entry.getValue();
            }
        }
        throw new AssertionError("no parameter named latents in " + encoder.block().getParameters().keys());
    }

    private Encoder build(int length) {
        Engine.getInstance().setRandomSeed(3);
        Encoder encoder = LatentAttentionPlugin.TRANSFORMER_LATENT_ATTENTION.create(PARAMS,
                TestContext.builder().optInput(LatentAttentionEncoderContractTest.TOKENS).build());
        encoder.block().initialize(manager, DataType.FLOAT32, new Shape(2, length), new Shape(2, length));
        return encoder;
    }

    private float[] encode(Encoder encoder, NDList texts) {
        return encoder.block().forward(new ParameterStore(manager, false), texts, false).get(0).toFloatArray();
    }

    private static double maxAbsDifference(float[] a, float[] b) {
        double largest = 0;
        for (int i = 0; i < a.length; i++) {
            largest = Math.max(largest, Math.abs(a[i] - b[i]));
        }
        return largest;
    }

    /** Ids padded to {@code length} with {@code padding} (the pad id 0, or any id), mask 1 on real tokens. */
    private NDList collate(int[][] texts, int length, int padding) {
        int[] ids = new int[texts.length * length];
        float[] mask = new float[texts.length * length];
        Arrays.fill(ids, padding);
        for (int b = 0; b < texts.length; b++) {
            for (int t = 0; t < texts[b].length; t++) {
                ids[b * length + t] = texts[b][t];
                mask[b * length + t] = 1;
            }
        }
        Shape shape = new Shape(texts.length, length);
        return new NDList(manager.create(ids, shape), manager.create(mask, shape));
    }

    /** Texts of 1 to {@code length} tokens, the first the CLS id 1, as the text modality collates them. */
    static NDList randomTexts(NDManager manager, int batchSize, int length) {
        Random random = new Random(batchSize);
        int[] ids = new int[batchSize * length];
        float[] mask = new float[batchSize * length];
        for (int b = 0; b < batchSize; b++) {
            int real = 1 + random.nextInt(length);
            for (int t = 0; t < real; t++) {
                ids[b * length + t] = t == 0 ? 1 : 3 + random.nextInt(47);
                mask[b * length + t] = 1;
            }
        }
        Shape shape = new Shape(batchSize, length);
        return new NDList(manager.create(ids, shape), manager.create(mask, shape));
    }
}
