package dev.modalign.plugins.encoders;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenSpec;
import dev.modalign.testkit.AbstractEncoderContractTest;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code mlp} on token sequences: mean of token embeddings over real tokens, then the MLP. */
class MlpEncoderOnTokensTest extends AbstractEncoderContractTest<MlpEncoder.Params> {

    private static final TokenSpec TOKENS = new TokenSpec(40, 10, 0, 1);

    @Override
    protected ComponentFactory<MlpEncoder.Params, Encoder> factory() {
        return MlpEncoder.FACTORY;
    }

    @Override
    protected MlpEncoder.Params params() {
        return new MlpEncoder.Params(List.of(24, 16), 8);
    }

    @Override
    protected InputSpec input() {
        return TOKENS;
    }

    @Override
    protected NDList batch(NDManager manager, int batchSize) {
        int[][] sequences = new int[batchSize][];
        for (int b = 0; b < batchSize; b++) {
            // Lengths 1 to 4, padded to 6.
            sequences[b] = Arrays.copyOf(new int[] {2 + b % 30, 5, 7 + b % 20, 11}, 1 + b % 4);
        }
        return TransformerEncoderTest.collate(manager, sequences, 6);
    }

    private Encoder build(NDList sample) {
        Engine.getInstance().setRandomSeed(3);
        Encoder encoder = factory().create(params(), TestContext.builder().optInput(TOKENS).build());
        encoder.block().initialize(manager, DataType.FLOAT32, sample.getShapes());
        return encoder;
    }

    private float[] encode(Encoder encoder, NDList batch) {
        return encoder.block().forward(new ParameterStore(manager, false), batch, false).get(0).toFloatArray();
    }

    private static final int[][] SENTENCES = {{3, 8, 8, 20}, {12}, {39, 2, 5}};

    @Test
    void paddingIsIgnored() {
        NDList tight = TransformerEncoderTest.collate(manager, SENTENCES, 4);
        Encoder encoder = build(tight);
        float[] before = encode(encoder, tight);
        Tensors.assertClose(before, encode(encoder, TransformerEncoderTest.collate(manager, SENTENCES, 10)), 1e-5,
                "embedding after appending padding");
        // Other ids under the padding must not matter either: only the mask says what is real.
        NDList padded = TransformerEncoderTest.collate(manager, SENTENCES, 4);
        int[] ids = padded.get(0).toIntArray();
        float[] mask = padded.get(1).toFloatArray();
        for (int i = 0; i < ids.length; i++) {
            if (mask[i] == 0f) {
                ids[i] = 30;
            }
        }
        NDList garbage = new NDList(manager.create(ids, padded.get(0).getShape()), padded.get(1));
        Tensors.assertClose(before, encode(encoder, garbage), 1e-5, "embedding with other ids under the padding");
    }

    @Test
    void aBagOfTokensIgnoresOrderButNotContent() {
        NDList sample = TransformerEncoderTest.collate(manager, SENTENCES, 4);
        Encoder encoder = build(sample);
        float[] ordered = encode(encoder, TransformerEncoderTest.collate(manager, new int[][] {{3, 8, 20}}, 3));
        float[] shuffled = encode(encoder, TransformerEncoderTest.collate(manager, new int[][] {{20, 3, 8}}, 3));
        float[] other = encode(encoder, TransformerEncoderTest.collate(manager, new int[][] {{20, 3, 9}}, 3));
        Tensors.assertClose(ordered, shuffled, 1e-5, "the mean of embeddings does not depend on order");
        assertTrue(TransformerEncoderTest.maxAbsDifference(ordered, other) > 1e-4, "a changed token changed nothing");
    }

    @Test
    void tokensNeedAHiddenLayerForTheirEmbeddings() {
        InvalidParamException error = assertThrows(InvalidParamException.class,
                () -> factory().create(new MlpEncoder.Params(List.of(), 8),
                        TestContext.builder().optInput(TOKENS).build()));
        assertEquals("hidden", error.key());
    }
}
