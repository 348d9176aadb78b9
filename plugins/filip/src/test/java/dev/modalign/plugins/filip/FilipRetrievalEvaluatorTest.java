package dev.modalign.plugins.filip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** filip-retrieval ranks by the token-wise similarity of each direction, in blocks, padding excluded. */
class FilipRetrievalEvaluatorTest extends ManagerPerTest {

    private static final List<String> TOWERS = List.of("image", "text");

    /**
     * The hand-worked case of FilipLossTest: image-&gt;text scores s(a_i -&gt; b_j) = [[.4, .27], [.8, .8]],
     * text-&gt;image scores s(b_j -&gt; a_i) = [[.9, .4], [.8, .8]] (row j). Image 0 and text 0 find their own
     * partner first; image 1 and text 1 tie with the other record, and a tie counts against the query.
     */
    @Test
    void ranksTheHandWorkedCaseByEachDirectionsOwnSimilarity() {
        FixedEvalContext context = handWorked(new float[] {1, 0, 1, 0, 1, 0, 1, 0}, true);
        Map<String, Double> metrics = evaluator(List.of(1, 2), 64).evaluate(context).metrics();
        assertEquals(0.5, metrics.get("image_to_text/R_at_1"), 1e-12);
        assertEquals(1.0, metrics.get("image_to_text/R_at_2"), 1e-12);
        assertEquals(0.75, metrics.get("image_to_text/MRR"), 1e-12);
        assertEquals(0.5, metrics.get("text_to_image/R_at_1"), 1e-12);
        assertEquals(0.75, metrics.get("text_to_image/MRR"), 1e-12);
        assertEquals(0.5, metrics.get("image_to_text/chance_R_at_1"), 1e-12);
    }

    @Test
    void paddedTokensChangeNothing() {
        // Other features in the padded positions, which would win maxima if they counted: b_1's (1, 0) would
        // raise s(a_0 -> b_1) to .8, a_1's (1, 0) s(b_0 -> a_1) to .9.
        float[] decoys = {1, 0, 0, 1, 0, 1, 1, 0};
        Map<String, Double> masked = evaluator(List.of(1, 2), 64).evaluate(handWorked(decoys, true)).metrics();
        assertEquals(0.5, masked.get("image_to_text/R_at_1"), 1e-12);
        assertEquals(0.75, masked.get("image_to_text/MRR"), 1e-12);
        assertEquals(0.5, masked.get("text_to_image/R_at_1"), 1e-12);
        assertEquals(0.75, masked.get("text_to_image/MRR"), 1e-12);
        Map<String, Double> unmasked = evaluator(List.of(1, 2), 64).evaluate(handWorked(decoys, false)).metrics();
        assertTrue(unmasked.get("image_to_text/MRR") < 0.75 && unmasked.get("text_to_image/MRR") < 0.75,
                "counted as real tokens, the decoys should have lowered both directions: " + unmasked);
    }

    @Test
    void blocksOfAnySizeGiveTheSameMetrics() {
        Engine.getInstance().setRandomSeed(9);
        int n = 23;
        NDArray base = manager.randomNormal(new Shape(n, 1, 6));
        NDArray image = base.add(manager.randomNormal(new Shape(n, 4, 6)));
        NDArray text = base.add(manager.randomNormal(new Shape(n, 5, 6)));
        float[] mask = new float[n * 5];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k <= i % 5; k++) {
                mask[i * 5 + k] = 1;
            }
        }
        String[] groups = new String[n];
        for (int i = 0; i < n; i++) {
            groups[i] = "g" + (i / 2); // pairs of records are one item
        }
        FixedEvalContext context = new FixedEvalContext(manager)
                .tower("image", image.mean(new int[] {1})).tower("text", text.mean(new int[] {1}))
                .tokens("image", image, manager.ones(new Shape(n, 4)))
                .tokens("text", text, manager.create(mask, new Shape(n, 5)))
                .groupIds(groups);
        EvalResult whole = evaluator(List.of(1, 5), 64).evaluate(context);
        for (int block : new int[] {1, 4, 7, 23}) {
            assertEquals(whole.metrics(), evaluator(List.of(1, 5), block).evaluate(context).metrics(),
                    "block_size " + block);
        }
        assertTrue(whole.metrics().get("image_to_text/R_at_5") > whole.metrics().get("image_to_text/chance_R_at_1"));
    }

    @Test
    void asksForTokensAndNamesATowerWithout() {
        Evaluator evaluator = evaluator(List.of(1), 8);
        assertTrue(evaluator.needsTokens());
        FixedEvalContext context = new FixedEvalContext(manager)
                .tower("image", new float[][] {{1, 0}, {0, 1}}).tower("text", new float[][] {{1, 0}, {0, 1}});
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> evaluator.evaluate(context));
        assertTrue(error.getMessage().contains("tower 'image' has none"), error.getMessage());
    }

    @Test
    void rejectsBadParametersByKey() {
        assertEquals("k", assertThrows(InvalidParamException.class,
                () -> new FilipRetrievalEvaluator.Params(List.of(0), 8)).key());
        assertEquals("block_size", assertThrows(InvalidParamException.class,
                () -> new FilipRetrievalEvaluator.Params(List.of(1), 0)).key());
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> new FilipRetrievalEvaluator(
                new FilipRetrievalEvaluator.Params(List.of(1), 8),
                TestContext.builder().optTowers(List.of("image"), 2).build())).key());
    }

    /**
     * The tokens of FilipLossTest's hand-worked case, the padded tokens' features as given; with {@code
     * masked} false every token counts as real.
     */
    private FixedEvalContext handWorked(float[] padding, boolean masked) {
        NDArray image = manager.create(new float[] {1, 0, 0, 1, -1, 0, 0, 1, padding[0], padding[1], padding[2],
            padding[3]}, new Shape(2, 3, 2));
        NDArray text = manager.create(new float[] {1, 0, .6f, .8f, padding[4], padding[5], -.6f, .8f, padding[6],
            padding[7], padding[6], padding[7]}, new Shape(2, 3, 2));
        return new FixedEvalContext(manager)
                .tower("image", image.mean(new int[] {1})).tower("text", text.mean(new int[] {1}))
                .tokens("image", image, masked ? manager.create(new float[] {1, 1, 1, 1, 0, 0}, new Shape(2, 3))
                        : manager.ones(new Shape(2, 3)))
                .tokens("text", text, masked ? manager.create(new float[] {1, 1, 0, 1, 0, 0}, new Shape(2, 3))
                        : manager.ones(new Shape(2, 3)));
    }

    private static Evaluator evaluator(List<Integer> k, int blockSize) {
        return FilipPlugin.FILIP_RETRIEVAL.create(new FilipRetrievalEvaluator.Params(k, blockSize),
                TestContext.builder().optTowers(TOWERS, 2).build());
    }
}
