package dev.modalign.plugins.evaluators;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Weighted k-NN votes worked out by hand. */
class KnnEvaluatorTest extends ManagerPerTest {

    private static final double EXACT = 1e-12;

    /** Unit memory rows at cosines 1, 0.8, 0.6 and 0 from the query (1, 0). */
    private static final float[][] MEMORY = {{1, 0}, {0.8f, 0.6f}, {0.6f, 0.8f}, {0, 1}};
    private static final int[] MEMORY_LABELS = {0, 1, 1, 2};
    private static final float[][] QUERY = {{1, 0}};

    /**
     * k = 3: class 0 gets exp(1 / T), class 1 exp(0.8 / T) + exp(0.6 / T). At T = 0.1 that is e^10
     * against e^8 + e^6 (class 0 wins); at T = 10, 1.105 against 1.083 + 1.062 = 2.145 (class 1 wins).
     */
    @Test
    void theTemperatureDecidesBetweenOneCloseAndTwoFarNeighbours() {
        assertEquals(1.0, top1(MEMORY, MEMORY_LABELS, QUERY, new int[] {0}, 3, 0.1));
        assertEquals(0.0, top1(MEMORY, MEMORY_LABELS, QUERY, new int[] {0}, 3, 10));
        assertEquals(1.0, top1(MEMORY, MEMORY_LABELS, QUERY, new int[] {1}, 3, 10));
        // k = 1: only the nearest votes, whatever T.
        assertEquals(1.0, top1(MEMORY, MEMORY_LABELS, QUERY, new int[] {0}, 1, 10));
    }

    @Test
    void kLargerThanTheMemoryUsesAllOfIt() {
        // All four vote at T = 10: class 1's 2.145 beats class 0's 1.105 and class 2's exp(0) = 1.
        assertEquals(1.0, top1(MEMORY, MEMORY_LABELS, QUERY, new int[] {1}, 100, 10));
        // At T = 0.1 the nearest still wins.
        assertEquals(1.0, top1(MEMORY, MEMORY_LABELS, QUERY, new int[] {0}, 100, 0.1));
    }

    @Test
    void equalVotesTieAndDuplicatesVoteTwice() {
        float[][] duplicates = {{1, 0}, {1, 0}, {1, 0}};
        // Two copies vote for class 0 and one for class 1: class 0 wins.
        assertEquals(1.0, top1(duplicates, new int[] {0, 1, 0}, QUERY, new int[] {0}, 3, 0.07));
        // One copy each: the votes tie, half a hit.
        assertEquals(0.5, top1(duplicates, new int[] {0, 1, 0}, QUERY, new int[] {0}, 2, 0.07));
    }

    @Test
    void neighboursWithEqualScoresAreTakenInMemoryOrder() {
        float[] scores = {0.5f, 0.9f, 0.5f, 0.5f, -0.0f, 0.0f};
        assertArrayEquals(new int[] {1, 0}, KnnEvaluator.nearest(scores, 0, 4, 2));
        assertArrayEquals(new int[] {1, 0, 2, 3}, KnnEvaluator.nearest(scores, 0, 4, 10));
        // -0.0 and 0.0 are equal scores too; the offset selects a row of a block.
        assertArrayEquals(new int[] {0}, KnnEvaluator.nearest(scores, 4, 2, 1));
    }

    @Test
    void aClassAbsentFromTheMemoryIsAMiss() {
        assertEquals(0.0, top1(MEMORY, new int[] {0, 1, 1, 1}, new float[][] {{0, 1}}, new int[] {2}, 4, 0.07));
    }

    @Test
    void oneClassIsAlwaysRight() {
        assertEquals(1.0, top1(MEMORY, new int[] {0, 0, 0, 0}, new float[][] {{0, 1}, {1, 0}}, new int[] {0, 0}, 2, 0.07));
    }

    @Test
    void separableClustersAreAllRightAndTopFiveAppearsWithManyClasses() {
        Clusters four = Clusters.of(4, 20, 16, 0.05, 1);
        Map<String, Double> metrics = evaluate(new KnnEvaluator.Params(20, 0.07, 0.5), four);
        assertEquals(Map.of("top1", 1.0), metrics);
        Clusters seven = Clusters.of(7, 10, 16, 0.05, 2);
        Map<String, Double> many = evaluate(new KnnEvaluator.Params(5, 0.07, 0.5), seven);
        assertEquals(List.of("top1", "top5"), List.copyOf(many.keySet()));
        assertEquals(1.0, many.get("top5"), EXACT);
    }

    @Test
    void noisyClustersAreBetweenChanceAndPerfect() {
        Map<String, Double> metrics = evaluate(new KnnEvaluator.Params(20, 0.07, 0.5), Clusters.of(4, 50, 8, 1.0, 3));
        assertTrue(metrics.get("top1") > 0.4 && metrics.get("top1") < 1, metrics.toString());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        assertEquals("k", assertThrows(InvalidParamException.class, () -> new KnnEvaluator.Params(0, 0.07, 0.5)).key());
        assertEquals("temperature", assertThrows(InvalidParamException.class,
                () -> new KnnEvaluator.Params(20, 0, 0.5)).key());
        assertEquals("test_fraction", assertThrows(InvalidParamException.class,
                () -> new KnnEvaluator.Params(20, 0.07, 1)).key());
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> EvaluatorsPlugin.KNN.create(
                new KnnEvaluator.Params(20, 0.07, 0.5), TestContext.builder().optTowers(List.of("a", "b"), 4).build())).key());
    }

    private double top1(float[][] memory, int[] memoryLabels, float[][] queries, int[] queryLabels, int k, double t) {
        int classes = 1 + Math.max(java.util.Arrays.stream(memoryLabels).max().orElse(0),
                java.util.Arrays.stream(queryLabels).max().orElse(0));
        return KnnEvaluator.classify(manager, memory, memoryLabels, queries, queryLabels, classes, k, t, 1).accuracy(0);
    }

    private Map<String, Double> evaluate(KnnEvaluator.Params params, Clusters data) {
        return EvaluatorsPlugin.KNN.create(params, TestContext.builder().optTowers(List.of("image"), 16).build())
                .evaluate(data.context(manager, "image", 5)).metrics();
    }
}
