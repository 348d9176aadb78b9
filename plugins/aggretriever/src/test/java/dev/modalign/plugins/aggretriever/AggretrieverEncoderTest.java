package dev.modalign.plugins.aggretriever;

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

/** agg* on hand-worked values, padding that changes nothing, the parts of the embedding and its gradients. */
class AggretrieverEncoderTest extends ManagerPerTest {

    private static final AggretrieverEncoder.Params PARAMS = new AggretrieverEncoder.Params(16, 1, 2, 2.0, 0.0, 12, 8);

    /**
     * v = [.1, .5, .7, .3, .4, .2, -.1, .6, .05, -.3] with d = 2: slices of 4, the last zero-padded:
     * [.1, .5, .7, .3], [.4, .2, -.1, .6], [.05, -.3, 0, 0]; their element-wise max [.4, .5, .7, .6];
     * pairs (.4, .5) -&gt; -.5 (the second is larger) and (.7, .6) -&gt; .7.
     */
    @Test
    void aggregationFoldsSliceMaximaIntoSignedPairsAsWorkedByHand() {
        NDArray lexical = manager.create(new float[] {.1f, .5f, .7f, .3f, .4f, .2f, -.1f, .6f, .05f, -.3f},
                new Shape(1, 10));
        Tensors.assertClose(new float[] {-.5f, .7f}, AggretrieverBlock.aggregate(lexical, 2).toFloatArray(), 1e-7,
                "agg*");
        // All values negative: zero padding of the last slice wins there, as in the authors' padded case.
        NDArray negative = manager.create(new float[] {-.1f, -.2f, -.3f, -.4f, -.5f, -.6f}, new Shape(1, 6));
        // slices [-.1, -.2, -.3, -.4], [-.5, -.6, 0, 0] -> max [-.1, -.2, 0, 0] -> (-.1, -.2): -.1; (0, 0): -0.
        Tensors.assertClose(new float[] {-.1f, 0f}, AggretrieverBlock.aggregate(negative, 2).toFloatArray(), 1e-7,
                "agg* of negative values");
    }

    @Test
    void theLexicalMaxSkipsPaddedTokensEvenWhereRealValuesAreNegative() {
        // Two tokens over a vocabulary of 3; the second is padding and holds larger values.
        NDArray weighted = manager.create(new float[] {-.2f, -.1f, .3f, 5f, 5f, 5f}, new Shape(1, 2, 3));
        NDArray mask = manager.create(new float[] {1, 0}, new Shape(1, 2));
        Tensors.assertClose(new float[] {-.2f, -.1f, .3f}, AggretrieverBlock.lexical(weighted, mask).toFloatArray(),
                1e-7, "v");
        NDArray none = manager.create(new float[] {0, 0}, new Shape(1, 2));
        Tensors.assertClose(new float[3], AggretrieverBlock.lexical(weighted, none).toFloatArray(), 0,
                "a text without a real token");
    }

    @Test
    void paddingAndWhatItHoldsChangeNoEmbedding() {
        Encoder encoder = build(PARAMS, 10);
        int[][] texts = {{1, 7, 9, 12}, {1, 30}, {1, 4, 4, 4, 8, 41, 3}};
        float[] together = encode(encoder, collate(texts, 10, 0));
        float[] garbage = encode(encoder, collate(texts, 10, 33));
        Tensors.assertClose(together, garbage, 0, "ids in padded positions");
        for (int i = 0; i < texts.length; i++) {
            float[] alone = encode(encoder, collate(new int[][] {texts[i]}, texts[i].length, 0));
            Tensors.assertClose(Arrays.copyOfRange(together, 12 * i, 12 * i + 12), alone, 1e-5,
                    "text " + i + " alone, without padding");
        }
    }

    @Test
    void theEmbeddingIsAggStarThenTheFirstToken() {
        Encoder encoder = build(PARAMS, 10);
        NDList texts = collate(new int[][] {{1, 7, 9}, {1, 30, 31, 32}}, 6, 0);
        NDArray embedding = encoder.block().forward(new ParameterStore(manager, false), texts, false).get(0);
        assertEquals(new Shape(2, 12), embedding.getShape());
        // Built with the same seed, an encoder of agg* alone initialises the transformer and the term weight
        // alike (the first-token projection comes last), so its embedding is the first 8 columns.
        Encoder aggOnly = build(new AggretrieverEncoder.Params(16, 1, 2, 2.0, 0.0, 8, 8), 10);
        NDArray agg = aggOnly.block().forward(new ParameterStore(manager, false), texts, false).get(0);
        assertEquals(new Shape(2, 8), agg.getShape());
        Tensors.assertClose(agg.toFloatArray(), embedding.get(new NDIndex(":, 0:8")).toFloatArray(), 0, "agg*");
        // agg* reads the words: another second text changes it.
        NDArray other = encoder.block().forward(new ParameterStore(manager, false),
                collate(new int[][] {{1, 7, 9}, {1, 5}}, 6, 0), false).get(0);
        assertTrue(other.get(new NDIndex("1, 0:8")).sub(embedding.get(new NDIndex("1, 0:8"))).abs().max()
                .getFloat() > 0, "agg* did not change with the words");
    }

    @Test
    void gradientsReachTheTermWeightsTheVocabularyBiasAndTheTokenTable() {
        Encoder encoder = build(PARAMS, 10);
        NDList texts = randomTexts(manager, 4, 8);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray embedding = encoder.block().forward(new ParameterStore(manager, false), texts, true).get(0);
            // Only the agg* part: its gradient flows through the lexical path alone.
            collector.backward(embedding.get(new NDIndex(":, 0:8")).square().sum());
        }
        for (Pair<String, Parameter> entry : encoder.block().getParameters()) {
            String name = entry.getKey();
            if (name.contains("term_weight") || name.contains("vocabulary_bias") || name.contains("token_embedding")) {
                NDArray gradient = entry.getValue().getArray().getGradient();
                assertTrue(gradient.abs().sum().getFloat() > 0, name + " got no gradient from agg*");
            }
            if (name.contains("first_token_projection")) {
                assertEquals(0f, entry.getValue().getArray().getGradient().abs().sum().getFloat(), 0f,
                        name + " is not part of agg*");
            }
        }
    }

    @Test
    void rejectsBadParametersAndNonTokenInput() {
        assertEquals("agg_dim", assertThrows(InvalidParamException.class,
                () -> new AggretrieverEncoder.Params(16, 1, 2, 2.0, 0.0, 12, 13)).key());
        assertEquals("agg_dim", assertThrows(InvalidParamException.class,
                () -> new AggretrieverEncoder.Params(16, 1, 2, 2.0, 0.0, 12, 0)).key());
        assertEquals("heads", assertThrows(InvalidParamException.class,
                () -> new AggretrieverEncoder.Params(16, 1, 3, 2.0, 0.0, 12, 8)).key());
        InvalidParamException error = assertThrows(InvalidParamException.class, () -> new AggretrieverEncoder(PARAMS,
                TestContext.builder().optInput(new ImageSpec(3, 8, 8)).optTowers(List.of("image"), 12).build()));
        assertEquals("type", error.key());
        assertTrue(error.getMessage().contains("tower 'image' has image"), error.getMessage());
    }

    @Test
    void pluginIsFoundByServiceLoader() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("aggretriever")).findFirst().orElseThrow();
        assertInstanceOf(AggretrieverPlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertTrue(plugin.encoders().stream().anyMatch(f -> f.name().equals("transformer-agg")
                && f.description().contains("Aggretriever")));
    }

    private Encoder build(AggretrieverEncoder.Params params, int length) {
        Engine.getInstance().setRandomSeed(3);
        Encoder encoder = AggretrieverPlugin.TRANSFORMER_AGG.create(params,
                TestContext.builder().optInput(AggretrieverEncoderContractTest.TOKENS).build());
        encoder.block().initialize(manager, DataType.FLOAT32, new Shape(2, length), new Shape(2, length));
        return encoder;
    }

    private float[] encode(Encoder encoder, NDList texts) {
        return encoder.block().forward(new ParameterStore(manager, false), texts, false).get(0).toFloatArray();
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
