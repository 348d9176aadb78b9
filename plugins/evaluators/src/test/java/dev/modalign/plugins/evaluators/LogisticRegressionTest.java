package dev.modalign.plugins.evaluators;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.InvalidParamException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The L2-penalised multinomial logistic regression and its L2 selection. */
class LogisticRegressionTest {

    private static final List<Double> GRID = List.of(1e-4, 1e-3, 1e-2, 1e-1, 1.0);

    /**
     * Two points, x = 1 of class 1 and x = -1 of class 0, have a closed-form optimum. By symmetry the
     * biases are equal and w_0 = -w_1; with u = w_1 - w_0 both points lose log(1 + exp(-u)) and the
     * penalty is (l2 / 2)(w_0^2 + w_1^2) = l2 u^2 / 4, so the optimum solves l2 u / 2 = 1 / (1 + exp(u)),
     * found here by bisection.
     */
    @Test
    void twoPointsReachTheClosedFormOptimum() {
        double l2 = 0.1;
        double low = 0;
        double high = 100;
        for (int i = 0; i < 200; i++) {
            double middle = (low + high) / 2;
            if (l2 * middle / 2 < 1 / (1 + Math.exp(middle))) {
                low = middle;
            } else {
                high = middle;
            }
        }
        double u = (low + high) / 2;
        LogisticRegression model = LogisticRegression.fit(new float[][] {{1}, {-1}}, new int[] {1, 0}, 2, l2);
        double[] atOne = model.scores(new float[] {1});
        double[] atZero = model.scores(new float[] {0});
        assertEquals(u, atOne[1] - atOne[0], 1e-6, "the logit margin at x = 1");
        assertEquals(0, atZero[1] - atZero[0], 1e-9, "the biases are equal");
    }

    @Test
    void perfectlySeparableClassesAreAllRight() {
        Clusters data = Clusters.of(4, 60, 16, 0.05, 1);
        float[][] rows = unit(data.rows());
        int[] labels = data.intLabels();
        StratifiedSplit split = StratifiedSplit.of(labels, 0.5, 3);
        LogisticRegression model = LogisticRegression.fit(StratifiedSplit.rows(rows, split.fit()),
                StratifiedSplit.labels(labels, split.fit()), 4, 1e-3);
        ClassificationAccuracy accuracy = model.accuracy(StratifiedSplit.rows(rows, split.test()),
                StratifiedSplit.labels(labels, split.test()), 1);
        assertEquals(1.0, accuracy.accuracy(0));
    }

    @Test
    void aClassAbsentFromTheFitDataIsNeverPredicted() {
        float[][] rows = {{1, 0}, {0.9f, 0.1f}, {0, 1}, {0.1f, 0.9f}};
        LogisticRegression model = LogisticRegression.fit(rows, new int[] {0, 0, 2, 2}, 3, 1e-2);
        double[] scores = model.scores(new float[] {0.5f, 0.5f});
        assertEquals(Double.NEGATIVE_INFINITY, scores[1]);
        assertTrue(Double.isFinite(scores[0]) && Double.isFinite(scores[2]), Arrays.toString(scores));
        // A record of class 1 is a miss; the others are classified.
        ClassificationAccuracy accuracy = model.accuracy(new float[][] {{1, 0}, {0, 1}, {0.7f, 0.7f}}, new int[] {0, 2, 1}, 1);
        assertEquals(2 / 3.0, accuracy.accuracy(0), 1e-12);
    }

    @Test
    void oneClassInTheFitDataIsAlwaysPredicted() {
        LogisticRegression model = LogisticRegression.fit(new float[][] {{1, 0}, {0, 1}}, new int[] {1, 1}, 3, 1e-2);
        double[] scores = model.scores(new float[] {-1, 0});
        assertEquals(0.0, scores[1]);
        assertEquals(Double.NEGATIVE_INFINITY, scores[0]);
        assertEquals(Double.NEGATIVE_INFINITY, scores[2]);
    }

    @Test
    void fittingIsDeterministic() {
        Clusters data = Clusters.of(3, 20, 8, 0.8, 5);
        float[][] rows = unit(data.rows());
        double[] first = LogisticRegression.fit(rows, data.intLabels(), 3, 1e-3).scores(rows[0]);
        double[] second = LogisticRegression.fit(rows, data.intLabels(), 3, 1e-3).scores(rows[0]);
        assertArrayEquals(first, second);
    }

    @Test
    void moreRegularisationGivesSmallerMargins() {
        Clusters data = Clusters.of(2, 20, 8, 0.5, 3);
        float[][] rows = unit(data.rows());
        double previous = Double.POSITIVE_INFINITY;
        for (double l2 : GRID) {
            double[] scores = LogisticRegression.fit(rows, data.intLabels(), 2, l2).scores(rows[0]);
            double margin = Math.abs(scores[1] - scores[0]);
            assertTrue(margin < previous, "l2 " + l2 + ": margin " + margin + " not below " + previous);
            previous = margin;
        }
    }

    /**
     * On separable data every strength is right on the validation records, and the weakest gives them
     * the most confident (lowest-loss) answers, so it wins the tie.
     */
    @Test
    void selectionBreaksAccuracyTiesByValidationLoss() {
        Clusters data = Clusters.of(3, 20, 16, 0.05, 2);
        LogisticRegression.Selection selection = LogisticRegression.selectAndFit(unit(data.rows()), data.intLabels(), 3,
                GRID, 0.25, 9);
        assertEquals(1e-4, selection.l2());
        assertEquals(0.5, LogisticRegression.selectAndFit(unit(data.rows()), data.intLabels(), 3, List.of(0.5), 0.25, 9).l2());
    }

    @Test
    void badGridsAreRejectedByName() {
        for (List<Double> grid : Arrays.asList(List.<Double>of(), List.of(1.0, -1.0), List.of(Double.NaN), null)) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> LogisticRegression.checkGrid("l2", grid));
            assertEquals("l2", error.key());
        }
    }

    static float[][] unit(float[][] rows) {
        float[][] unit = new float[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            double[] row = new double[rows[i].length];
            for (int j = 0; j < row.length; j++) {
                row[j] = rows[i][j];
            }
            EvalSet.normalise(row);
            unit[i] = new float[row.length];
            for (int j = 0; j < row.length; j++) {
                unit[i][j] = (float) row[j];
            }
        }
        return unit;
    }
}
