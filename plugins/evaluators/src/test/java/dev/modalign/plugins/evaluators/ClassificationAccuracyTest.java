package dev.modalign.plugins.evaluators;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Top-k accuracy with ties scored as a random tie-break would in expectation. */
class ClassificationAccuracyTest {

    private static final double EXACT = 1e-12;
    private static final double NONE = Double.NEGATIVE_INFINITY;

    @Test
    void aStrictWinnerIsAHitOrAMiss() {
        assertEquals(1.0, ClassificationAccuracy.hit(new double[] {0.1, 0.9, 0.3}, 1, 1), EXACT);
        assertEquals(0.0, ClassificationAccuracy.hit(new double[] {0.1, 0.9, 0.3}, 2, 1), EXACT);
        assertEquals(1.0, ClassificationAccuracy.hit(new double[] {0.1, 0.9, 0.3}, 2, 2), EXACT);
        assertEquals(0.0, ClassificationAccuracy.hit(new double[] {0.1, 0.9, 0.3}, 0, 2), EXACT);
    }

    @Test
    void tiesCountAsTheExpectedHitOfARandomTieBreak() {
        // All four equal: the true class is at positions 1..4 with equal probability.
        double[] equal = {0.5, 0.5, 0.5, 0.5};
        assertEquals(1 / 4.0, ClassificationAccuracy.hit(equal, 2, 1), EXACT);
        assertEquals(3 / 4.0, ClassificationAccuracy.hit(equal, 2, 3), EXACT);
        assertEquals(1.0, ClassificationAccuracy.hit(equal, 2, 5), EXACT);
        // One class above, the true class tied with one other: positions 2 or 3.
        double[] scores = {0.9, 0.4, 0.4, 0.1};
        assertEquals(0.0, ClassificationAccuracy.hit(scores, 1, 1), EXACT);
        assertEquals(0.5, ClassificationAccuracy.hit(scores, 1, 2), EXACT);
        assertEquals(1.0, ClassificationAccuracy.hit(scores, 1, 3), EXACT);
        // Within the tolerance is a tie; beyond it is not.
        assertEquals(0.5, ClassificationAccuracy.hit(new double[] {1.0, 1.0 + 1e-8}, 0, 1), EXACT);
        assertEquals(0.0, ClassificationAccuracy.hit(new double[] {1.0, 1.0 + 1e-4}, 0, 1), EXACT);
    }

    @Test
    void aClassThatCannotBePredictedIsAlwaysAMiss() {
        assertEquals(0.0, ClassificationAccuracy.hit(new double[] {NONE, 0.2}, 0, 5), EXACT);
        // Unpredictable classes neither beat nor tie with the true class.
        assertEquals(1.0, ClassificationAccuracy.hit(new double[] {NONE, -3, NONE}, 1, 1), EXACT);
    }

    @Test
    void perClassAndMeanPerClassWeighEachClassTheSame() {
        ClassificationAccuracy accuracy = new ClassificationAccuracy(3, 1, 2);
        accuracy.add(0, new double[] {1, 0, 0});
        accuracy.add(0, new double[] {1, 0, 0});
        accuracy.add(0, new double[] {1, 0, 0});
        accuracy.add(1, new double[] {1, 0, 0.5});
        assertEquals(3 / 4.0, accuracy.accuracy(0), EXACT);
        // top 2 of the last record: class 1 is third.
        assertEquals(3 / 4.0, accuracy.accuracy(1), EXACT);
        assertEquals(1.0, accuracy.classAccuracy(0), EXACT);
        assertEquals(0.0, accuracy.classAccuracy(1), EXACT);
        assertTrue(Double.isNaN(accuracy.classAccuracy(2)), "class 2 has no record");
        assertArrayEquals(new int[] {0, 1}, accuracy.classIndicesWithRecords());
        assertEquals(0.5, accuracy.meanPerClass(), EXACT);
    }
}
