package dev.modalign.plugins.evaluators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Nearest normalised centroids, episodes, and their mean and spread. */
class FewShotEvaluatorTest extends ManagerPerTest {

    private static final double EXACT = 1e-12;

    /**
     * Class 0's examples (1, 0) and (0, 1) have the mean (0.5, 0.5), at 45 degrees with norm 0.707;
     * class 1's example is (-1, 0). A query at 110 degrees is cos 65 = 0.423 from class 0's unit
     * centroid and cos 70 = 0.342 from class 1's: class 0. Against the unnormalised mean it would
     * score 0.707 x 0.423 = 0.299 and lose to class 1, so this checks that centroids are normalised.
     */
    @Test
    void queriesGoToTheNearestNormalisedCentroid() {
        float[][] support = {{1, 0}, {0, 1}, {-1, 0}};
        int[] supportLabels = {0, 0, 1};
        float[][] queries = {at(110), at(160), at(10)};
        assertEquals(1.0, FewShotEvaluator.centroidAccuracy(manager, support, supportLabels, queries, new int[] {0, 1, 0}, 2),
                EXACT);
        assertEquals(1 / 3.0, FewShotEvaluator.centroidAccuracy(manager, support, supportLabels, queries,
                new int[] {1, 1, 1}, 2), EXACT);
    }

    @Test
    void aClassWithoutExamplesIsNeverPredictedAndEqualCentroidsTie() {
        float[][] support = {{1, 0}, {0, 1}};
        // Class 2 has no example: its query is a miss, wherever it lies.
        assertEquals(0.0, FewShotEvaluator.centroidAccuracy(manager, support, new int[] {0, 1}, new float[][] {at(0)},
                new int[] {2}, 3), EXACT);
        // Two classes with the same centroid: half a hit.
        assertEquals(0.5, FewShotEvaluator.centroidAccuracy(manager, new float[][] {{1, 0}, {1, 0}}, new int[] {0, 1},
                new float[][] {at(30)}, new int[] {1}, 2), EXACT);
    }

    @Test
    void samplesAreDistinctMembersAndAllOfThemWhenThereAreTooFew() {
        int[] members = {3, 8, 13, 21, 34};
        int[] three = FewShotEvaluator.sample(members, 3, new Random(1));
        assertEquals(3, Arrays.stream(three).distinct().count());
        assertTrue(Arrays.stream(three).allMatch(m -> Arrays.stream(members).anyMatch(x -> x == m)));
        int[] all = FewShotEvaluator.sample(members, 10, new Random(1));
        Arrays.sort(all);
        assertEquals(Arrays.toString(members), Arrays.toString(all));
    }

    @Test
    void theStandardDeviationIsTheSampleOne() {
        // mean 2; squared deviations 1, 0, 1; / (3 - 1) = 1.
        assertEquals(1.0, FewShotEvaluator.standardDeviation(new double[] {1, 2, 3}), EXACT);
        assertEquals(0.0, FewShotEvaluator.standardDeviation(new double[] {0.7}), EXACT);
    }

    @Test
    void separableClustersAreSolvedFromOneShot() {
        Map<String, Double> metrics = evaluate(new FewShotEvaluator.Params(List.of(1, 5), 4, 0.5),
                Clusters.of(4, 20, 16, 0.05, 1), 3);
        assertEquals(List.of("1_shot/accuracy", "1_shot/accuracy_std", "5_shot/accuracy", "5_shot/accuracy_std"),
                List.copyOf(metrics.keySet()));
        assertEquals(1.0, metrics.get("1_shot/accuracy"), EXACT);
        assertEquals(0.0, metrics.get("1_shot/accuracy_std"), EXACT);
        assertEquals(1.0, metrics.get("5_shot/accuracy"), EXACT);
    }

    @Test
    void moreShotsHelpOnNoisyClustersAndTheSeedDecidesTheEpisodes() {
        Clusters noisy = Clusters.of(5, 40, 8, 1.0, 2);
        FewShotEvaluator.Params params = new FewShotEvaluator.Params(List.of(1, 10), 10, 0.5);
        Map<String, Double> metrics = evaluate(params, noisy, 3);
        assertTrue(metrics.get("10_shot/accuracy") > metrics.get("1_shot/accuracy"), metrics.toString());
        assertTrue(metrics.get("1_shot/accuracy_std") > 0, metrics.toString());
        assertEquals(metrics, evaluate(params, noisy, 3));
        assertNotEquals(metrics, evaluate(params, noisy, 4));
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        assertEquals("shots", assertThrows(InvalidParamException.class,
                () -> new FewShotEvaluator.Params(List.of(), 10, 0.5)).key());
        assertEquals("shots", assertThrows(InvalidParamException.class,
                () -> new FewShotEvaluator.Params(List.of(1, 0), 10, 0.5)).key());
        assertEquals("shots", assertThrows(InvalidParamException.class,
                () -> new FewShotEvaluator.Params(List.of(5, 5), 10, 0.5)).key());
        assertEquals("episodes", assertThrows(InvalidParamException.class,
                () -> new FewShotEvaluator.Params(List.of(1), 0, 0.5)).key());
        assertEquals("test_fraction", assertThrows(InvalidParamException.class,
                () -> new FewShotEvaluator.Params(List.of(1), 10, 0)).key());
    }

    private Map<String, Double> evaluate(FewShotEvaluator.Params params, Clusters data, long seed) {
        return EvaluatorsPlugin.FEW_SHOT.create(params, TestContext.builder().optTowers(List.of("image"), 16).build())
                .evaluate(data.context(manager, "image", seed)).metrics();
    }

    private static float[] at(double degrees) {
        return new float[] {(float) Math.cos(Math.toRadians(degrees)), (float) Math.sin(Math.toRadians(degrees))};
    }
}
