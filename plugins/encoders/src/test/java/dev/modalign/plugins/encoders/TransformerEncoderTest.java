package dev.modalign.plugins.encoders;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import dev.modalign.api.TokenSpec;
import dev.modalign.testkit.AbstractEncoderContractTest;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TransformerEncoderTest extends AbstractEncoderContractTest<TransformerEncoder.Params> {

    private static final TokenSpec TOKENS = new TokenSpec(50, 12, 0, 1);

    @Override
    protected ComponentFactory<TransformerEncoder.Params, Encoder> factory() {
        return TransformerEncoder.FACTORY;
    }

    @Override
    protected TransformerEncoder.Params params() {
        return params("mean", 0.0);
    }

    private static TransformerEncoder.Params params(String pooling, double dropout) {
        return new TransformerEncoder.Params(32, 2, 4, 2.0, dropout, pooling, 16);
    }

    @Override
    protected InputSpec input() {
        return TOKENS;
    }

    @Override
    protected NDList batch(NDManager manager, int batchSize) {
        Random random = new Random(batchSize);
        int[][] sequences = new int[batchSize][];
        for (int b = 0; b < batchSize; b++) {
            sequences[b] = random.ints(1 + random.nextInt(8), 2, TOKENS.vocabularySize()).toArray();
        }
        return collate(manager, sequences, 8);
    }

    /** As the text modality collates: ids padded with padId to {@code length}, mask 1 on real tokens. */
    static NDList collate(NDManager manager, int[][] sequences, int length) {
        int[] ids = new int[sequences.length * length];
        float[] mask = new float[sequences.length * length];
        for (int b = 0; b < sequences.length; b++) {
            for (int t = 0; t < sequences[b].length; t++) {
                ids[b * length + t] = sequences[b][t];
                mask[b * length + t] = 1f;
            }
        }
        Shape shape = new Shape(sequences.length, length);
        return new NDList(manager.create(ids, shape), manager.create(mask, shape));
    }

    private Encoder build(TransformerEncoder.Params params, NDList sample) {
        Engine.getInstance().setRandomSeed(3);
        Encoder encoder = factory().create(params, TestContext.builder().optInput(TOKENS).build());
        encoder.block().initialize(manager, DataType.FLOAT32, sample.getShapes());
        return encoder;
    }

    private NDList encode(Encoder encoder, NDList batch) {
        return encoder.block().forward(new ParameterStore(manager, false), batch, false);
    }

    private static final int[][] SENTENCES = {{5, 9, 13, 2}, {7, 31}, {44, 3, 3, 8, 21, 17}};

    @Test
    void appendedPaddingLeavesEmbeddingsUnchanged() {
        for (String pooling : List.of("mean", "first")) {
            NDList tight = collate(manager, SENTENCES, 6);
            Encoder encoder = build(params(pooling, 0.0), tight);
            float[] before = encode(encoder, tight).get(0).toFloatArray();
            float[] after = encode(encoder, collate(manager, SENTENCES, 12)).get(0).toFloatArray();
            Tensors.assertClose(before, after, 1e-5, pooling + "-pooled embedding after appending padding");
        }
    }

    @Test
    void idsUnderPaddingAreIgnored() {
        NDList batch = collate(manager, SENTENCES, 8);
        Encoder encoder = build(params(), batch);
        float[] before = encode(encoder, batch).get(0).toFloatArray();
        // Put real-looking ids where the mask says padding: the attention and the pooling must not see them.
        int[] ids = batch.get(0).toIntArray();
        float[] mask = batch.get(1).toFloatArray();
        for (int i = 0; i < ids.length; i++) {
            if (mask[i] == 0f) {
                ids[i] = 10 + i % 30;
            }
        }
        NDList garbage = new NDList(manager.create(ids, batch.get(0).getShape()), batch.get(1));
        Tensors.assertClose(before, encode(encoder, garbage).get(0).toFloatArray(), 1e-5,
                "embedding with other ids under the padding");
    }

    @Test
    void changingARealTokenChangesOnlyThatSequence() {
        NDList batch = collate(manager, SENTENCES, 6);
        Encoder encoder = build(params(), batch);
        float[] before = encode(encoder, batch).get(0).toFloatArray();
        int[][] edited = {SENTENCES[0], {7, 32}, SENTENCES[2]};
        float[] after = encode(encoder, collate(manager, edited, 6)).get(0).toFloatArray();
        int d = encoder.embedDim();
        float[] changedBefore = Arrays.copyOfRange(before, d, 2 * d);
        float[] changedAfter = Arrays.copyOfRange(after, d, 2 * d);
        assertTrue(maxAbsDifference(changedBefore, changedAfter) > 1e-3,
                "changing the last real token of sequence 1 did not change its embedding");
        Tensors.assertClose(Arrays.copyOfRange(before, 0, d), Arrays.copyOfRange(after, 0, d), 1e-5,
                "sequence 0, whose tokens did not change");
        Tensors.assertClose(Arrays.copyOfRange(before, 2 * d, 3 * d), Arrays.copyOfRange(after, 2 * d, 3 * d), 1e-5,
                "sequence 2, whose tokens did not change");
    }

    @Test
    void tokenOrderMatters() {
        NDList batch = collate(manager, new int[][] {{5, 9, 13}}, 3);
        Encoder encoder = build(params(), batch);
        float[] forward = encode(encoder, batch).get(0).toFloatArray();
        float[] reversed = encode(encoder, collate(manager, new int[][] {{13, 9, 5}}, 3)).get(0).toFloatArray();
        assertTrue(maxAbsDifference(forward, reversed) > 1e-3,
                "the same tokens in another order gave the same embedding: positions are not used");
    }

    @Test
    void returnsProjectedTokensAndTheMask() {
        NDList batch = collate(manager, SENTENCES, 7);
        Encoder encoder = build(params(), batch);
        NDList out = encode(encoder, batch);
        assertTrue(encoder.tokenFeatures());
        assertEquals(new Shape(3, 7, 16), out.get(1).getShape());
        assertArrayEquals(batch.get(1).toFloatArray(), out.get(2).toFloatArray(), "the mask passes through");
        // Mean pooling is the masked mean of the returned token features: sequence 1 has 2 real tokens.
        float[] tokens = out.get(1).toFloatArray();
        float[] embedding = out.get(0).toFloatArray();
        for (int j = 0; j < 16; j++) {
            float mean = (tokens[(7 + 0) * 16 + j] + tokens[(7 + 1) * 16 + j]) / 2;
            assertEquals(mean, embedding[16 + j], 1e-5, "embedding of sequence 1, component " + j);
        }
    }

    @Test
    void dropoutActsOnlyWhileTraining() {
        NDList batch = collate(manager, SENTENCES, 6);
        Encoder encoder = build(params("mean", 0.5), batch);
        ParameterStore store = new ParameterStore(manager, false);
        float[] eval1 = encoder.block().forward(store, batch, false).get(0).toFloatArray();
        float[] eval2 = encoder.block().forward(store, batch, false).get(0).toFloatArray();
        float[] trained = encoder.block().forward(store, batch, true).get(0).toFloatArray();
        Tensors.assertClose(eval1, eval2, 1e-6, "evaluation is deterministic");
        assertTrue(maxAbsDifference(eval1, trained) > 1e-4, "dropout 0.5 changed nothing while training");
    }

    @Test
    void aCheckpointRestoresTheSameEncoder() {
        NDList batch = collate(manager, SENTENCES, 6);
        Encoder trained = build(params("first", 0.0), batch);
        Engine.getInstance().setRandomSeed(99);
        Encoder restored = factory().create(params("first", 0.0), TestContext.builder().optInput(TOKENS).build());
        restored.block().initialize(manager, DataType.FLOAT32, batch.getShapes());
        float[] expected = encode(trained, batch).get(0).toFloatArray();
        assertTrue(maxAbsDifference(expected, encode(restored, batch).get(0).toFloatArray()) > 1e-3,
                "another seed should start elsewhere, or the round trip below proves nothing");
        Checkpoints.copy(trained.block(), restored.block(), manager);
        Tensors.assertClose(expected, encode(restored, batch).get(0).toFloatArray(), 1e-6, "restored embedding");
    }

    @Test
    void sequencesLongerThanThePositionsAreRefused() {
        NDList sample = collate(manager, SENTENCES, 8);
        Encoder encoder = build(params(), sample);
        NDList tooLong = collate(manager, SENTENCES, TOKENS.maxLength() + 1);
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> encode(encoder, tooLong));
        assertTrue(error.getMessage().contains("max_length"), error.getMessage());
    }

    @Test
    void idsOutsideTheVocabularyAreRefusedClearly() {
        NDList sample = collate(manager, SENTENCES, 6);
        Encoder encoder = build(params(), sample);
        NDList outside = collate(manager, new int[][] {{5, TOKENS.vocabularySize()}}, 6);
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> encode(encoder, outside));
        assertTrue(error.getMessage().contains("vocabulary"), error.getMessage());
    }

    @Test
    void imageInputIsRefusedWithTheFix() {
        InvalidParamException error = assertThrows(InvalidParamException.class, () -> factory().create(params(),
                TestContext.builder().optInput(new ImageSpec(3, 32, 32)).optTowers(List.of("image"), 16).build()));
        assertEquals("type", error.key());
        assertEquals("transformer needs token input; tower 'image' has image: use cnn or mlp", error.getMessage());
    }

    @Test
    void parametersAreValidatedByKey() {
        assertEquals("heads", assertThrows(InvalidParamException.class,
                () -> new TransformerEncoder.Params(30, 2, 4, 4, 0, "mean", 16)).key());
        assertEquals("pooling", assertThrows(InvalidParamException.class,
                () -> new TransformerEncoder.Params(32, 2, 4, 4, 0, "max", 16)).key());
        assertEquals("dropout", assertThrows(InvalidParamException.class,
                () -> new TransformerEncoder.Params(32, 2, 4, 4, 1.0, "mean", 16)).key());
        assertEquals("mlp_ratio", assertThrows(InvalidParamException.class,
                () -> new TransformerEncoder.Params(32, 2, 4, 0, 0, "mean", 16)).key());
        assertEquals("embed_dim", assertThrows(InvalidParamException.class,
                () -> new TransformerEncoder.Params(32, 2, 4, 4, 0, "mean", 0)).key());
    }

    static double maxAbsDifference(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
