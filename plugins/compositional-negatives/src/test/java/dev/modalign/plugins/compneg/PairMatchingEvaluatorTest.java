package dev.modalign.plugins.compneg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PairMatchingEvaluatorTest extends ManagerPerTest {

    private static final List<String> CAPTIONS = List.of("A red ball on a blue box.", "A frog with a hat.",
            "A happy snail.", "A green teapot under a tree.", "The letter n.", "Hibiscus");

    private Map<String, Double> evaluate(boolean orderAware) {
        Evaluator evaluator = CompositionalNegativesPlugin.PAIR_MATCHING.create(new PairMatchingEvaluator.Params(
                List.of("swap-words", "shuffle-words", "swap-phrases", "replace-word"), 15),
                TestContext.builder().optTowers(List.of("image", "text"), 16).build());
        try (NDManager scope = manager.newSubManager()) {
            // Each image is exactly its caption's embedding: the best a model of this text tower can do.
            FixedEvalContext context = new FixedEvalContext(scope)
                    .tower("image", WordHashEncoder.encode(scope, CAPTIONS, 16, orderAware))
                    .tower("text", WordHashEncoder.encode(scope, CAPTIONS, 16, orderAware))
                    .raw("text", CAPTIONS)
                    .encoder((tower, values) -> WordHashEncoder.encode(scope, values, 16, orderAware))
                    .towers("image", "text").seed(3);
            EvalResult result = evaluator.evaluate(context);
            return result.metrics();
        }
    }

    @Test
    void aBagOfWordsTextTowerScoresChanceOnReorderedCaptions() {
        Map<String, Double> metrics = evaluate(false);
        assertEquals(0.5, metrics.get("swap-words/accuracy"), 1e-9, metrics.toString());
        assertEquals(0.5, metrics.get("shuffle-words/accuracy"), 1e-9);
        assertEquals(0.5, metrics.get("swap-phrases/accuracy"), 1e-9);
        // A replaced word changes the bag: even a bag-of-words model tells those apart.
        assertEquals(1.0, metrics.get("replace-word/accuracy"), 1e-9);
        assertEquals(0.5, metrics.get("chance"));
    }

    @Test
    void anOrderAwareTextTowerPrefersTheTrueCaptionEveryTime() {
        Map<String, Double> metrics = evaluate(true);
        for (String kind : List.of("swap-words", "shuffle-words", "swap-phrases", "replace-word")) {
            assertEquals(1.0, metrics.get(kind + "/accuracy"), 1e-9, kind + ": " + metrics);
        }
        assertEquals(1.0, metrics.get("accuracy"), 1e-9);
    }

    @Test
    void countsTheRecordsEachPerturbationAppliesTo() {
        Map<String, Double> metrics = evaluate(true);
        // Two-word and longer captions shuffle; "Hibiscus" does not. Phrases: the three with a connective.
        assertEquals(5.0, metrics.get("shuffle-words/n"));
        assertEquals(3.0, metrics.get("swap-phrases/n"));
        assertFalse(metrics.containsKey("swap-phrases/accuracy") && metrics.get("swap-phrases/n") == 0);
        assertTrue(metrics.get("replace-word/n") >= 5, metrics.toString());
    }
}
