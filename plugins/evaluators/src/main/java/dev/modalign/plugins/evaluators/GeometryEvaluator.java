package dev.modalign.plugins.evaluators;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The geometry of the shared space of two towers whose rows are paired (row i of both is one
 * record), measured on L2-normalised embeddings x (first tower) and y (second):
 *
 * <ul>
 *   <li>{@code alignment}: mean_i ||x_i - y_i||^2, how close paired embeddings lie, and {@code
 *       uniformity/<tower>}: log mean_{i != j} exp(-2 ||x_i - x_j||^2), how evenly a tower spreads
 *       over the sphere (lower is more uniform). "Understanding Contrastive Representation
 *       Learning through Alignment and Uniformity on the Hypersphere" (Wang and Isola, ICML 2020),
 *       Eqs. 4 and 5 with alpha = 2, t = 2. Uniformity takes every pair of records, block by block,
 *       without an N x N matrix;</li>
 *   <li>{@code modality_gap}: ||mean_i x_i - mean_i y_i||, the distance between the towers'
 *       centroids, "Mind the Gap: Understanding the Modality Gap in Multi-modal Contrastive
 *       Representation Learning" (Liang et al., NeurIPS 2022), Section 4.1;</li>
 *   <li>{@code gap_separability}: the held-out accuracy of a logistic regression that tells a
 *       tower's embedding from the other's: 0.5 when the two towers fill the same region (no gap),
 *       1 when a hyperplane separates them. Records are split by a seeded draw into fit and test
 *       parts, both embeddings of a record going to the same part, and the regression's L2
 *       strength is chosen on a validation split of the fit part as in the linear probe;</li>
 *   <li>the artifact {@code projection.png}: both towers projected on their first two principal
 *       components (see {@link ProjectionPlot}).</li>
 * </ul>
 */
public final class GeometryEvaluator implements Evaluator {

    /**
     * @param testFraction the fraction of records whose embeddings test the separability
     * @param l2 the L2 strengths the separability's regression chooses from
     * @param plot whether to draw the projection
     * @param plotPoints the most records drawn per tower
     */
    public record Params(
            @Doc("Fraction of the records held out to test gap_separability (both embeddings of a record go to the same"
                    + " part)") @Default("0.5") double testFraction,
            @Doc("L2 strengths for gap_separability's logistic regression; the best on a validation split of the fit"
                    + " part is used") @Default("[1e-4, 1e-3, 1e-2, 1e-1, 1]") List<Double> l2,
            @Doc("Draw projection.png: both towers on their first two principal components") @Default("true") boolean plot,
            @Doc("The most records projected and drawn per tower in projection.png (evenly spaced over the set)")
                    @Default("1000") int plotPoints) {

        public Params {
            StratifiedSplit.checkFraction("test_fraction", testFraction);
            l2 = LogisticRegression.checkGrid("l2", l2);
            if (plotPoints < 1) {
                throw new InvalidParamException("plot_points", "must be at least 1, found " + plotPoints
                        + "; set plot: false to draw nothing");
            }
        }
    }

    static final String NAME = "geometry";
    static final String PLOT = "projection.png";
    /** The fraction of the fit part that chooses the separability regression's L2 strength. */
    static final double VALIDATION_FRACTION = 0.25;

    private final Params params;

    public GeometryEvaluator(Params params, ComponentContext context) {
        EvalSet.twoTowers(context.towers(), NAME, "towers: [image, text]");
        this.params = params;
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        List<String> towers = EvalSet.twoTowers(context.towers(), NAME, "towers: [image, text]");
        String firstName = towers.get(0);
        String secondName = towers.get(1);
        float[][] first = EvalSet.unitRows(context, firstName);
        float[][] second = EvalSet.unitRows(context, secondName);
        if (first.length != second.length) {
            throw new IllegalArgumentException(NAME + " pairs row i of both towers, but " + firstName + " has "
                    + first.length + " rows and " + secondName + " has " + second.length);
        }
        if (first.length < 2) {
            throw new IllegalArgumentException(NAME + " needs at least 2 evaluation records (uniformity is a mean over "
                    + "pairs of records), found " + first.length);
        }
        EvalSet.requireSameDim(first, firstName, second, secondName);

        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("alignment", alignment(first, second));
        metrics.put("uniformity/" + firstName, uniformity(context, first));
        metrics.put("uniformity/" + secondName, uniformity(context, second));
        metrics.put("modality_gap", centroidDistance(first, second));
        metrics.put("gap_separability", separability(first, second, params.testFraction(), params.l2(), context.seed()));
        List<Path> artifacts = new ArrayList<>();
        if (params.plot()) {
            artifacts.add(ProjectionPlot.write(context.artifactDir().resolve(PLOT), firstName, first, secondName, second,
                    params.plotPoints()));
        }
        return new EvalResult(metrics, artifacts);
    }

    /** mean_i ||x_i - y_i||^2 (Wang and Isola, Eq. 4, alpha = 2). */
    static double alignment(float[][] x, float[][] y) {
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[i].length; j++) {
                double difference = (double) x[i][j] - y[i][j];
                sum += difference * difference;
            }
        }
        return sum / x.length;
    }

    /**
     * log mean over ordered pairs i != j of exp(-2 ||x_i - x_j||^2) (Wang and Isola, Eq. 5, t = 2; the
     * mean over i < j is the same by symmetry). ||x_i - x_j||^2 = |x_i|^2 + |x_j|^2 - 2 x_i . x_j,
     * with the dot products from {@link CosineScores}.
     */
    static double uniformity(EvalContext context, float[][] x) {
        double[] squaredNorms = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            for (float value : x[i]) {
                squaredNorms[i] += (double) value * value;
            }
        }
        double[] sum = new double[1];
        CosineScores.forEachBlock(context.manager(), x, x, (firstQuery, scores, rows) -> {
            for (int r = 0; r < rows; r++) {
                int i = firstQuery + r;
                for (int j = 0; j < x.length; j++) {
                    if (j != i) {
                        double squaredDistance = Math.max(0, squaredNorms[i] + squaredNorms[j] - 2.0 * scores[r * x.length + j]);
                        sum[0] += Math.exp(-2 * squaredDistance);
                    }
                }
            }
        });
        return Math.log(sum[0] / ((double) x.length * (x.length - 1)));
    }

    /** ||mean_i x_i - mean_i y_i|| (Liang et al., Section 4.1). */
    static double centroidDistance(float[][] x, float[][] y) {
        int dim = x[0].length;
        double squares = 0;
        for (int j = 0; j < dim; j++) {
            double difference = 0;
            for (int i = 0; i < x.length; i++) {
                difference += (double) x[i][j] - y[i][j];
            }
            difference /= x.length;
            squares += difference * difference;
        }
        return Math.sqrt(squares);
    }

    /**
     * The held-out accuracy of a logistic regression telling x (class 0) from y (class 1). Records,
     * not rows, are split, so a record's two embeddings are never one in the fit part and one in the
     * test part.
     */
    static double separability(float[][] x, float[][] y, double testFraction, List<Double> l2, long seed) {
        StratifiedSplit records = StratifiedSplit.of(new int[x.length], testFraction, seed);
        if (records.test().length == 0) {
            throw new IllegalArgumentException(NAME + " needs at least 2 evaluation records to hold some out");
        }
        float[][] fitRows = bothTowers(x, y, records.fit());
        float[][] testRows = bothTowers(x, y, records.test());
        LogisticRegression.Selection selection = LogisticRegression.selectAndFit(fitRows,
                towerLabels(records.fit().length), 2, l2, VALIDATION_FRACTION, seed);
        return selection.model().accuracy(testRows, towerLabels(records.test().length), 1).accuracy(0);
    }

    /** The rows of x at {@code records}, then those of y. */
    private static float[][] bothTowers(float[][] x, float[][] y, int[] records) {
        float[][] rows = new float[2 * records.length][];
        for (int i = 0; i < records.length; i++) {
            rows[i] = x[records[i]];
            rows[records.length + i] = y[records[i]];
        }
        return rows;
    }

    /** 0 for the first half (the first tower), 1 for the second. */
    private static int[] towerLabels(int records) {
        int[] labels = new int[2 * records];
        for (int i = records; i < 2 * records; i++) {
            labels[i] = 1;
        }
        return labels;
    }
}
