package dev.modalign.plugins.evaluators;

import dev.modalign.api.InvalidParamException;
import java.util.Arrays;
import java.util.List;

/**
 * Multinomial logistic regression with an L2 penalty on the weights, the linear probe of frozen
 * features ("Learning Transferable Visual Models From Natural Language Supervision", Radford et al.
 * 2021, Section 3.2: L-BFGS logistic regression, L2 strength chosen on a validation split). It
 * minimises
 *
 * <pre>
 *   (1/n) sum_i [ log sum_k exp(w_k . x_i + b_k) - (w_{y_i} . x_i + b_{y_i}) ] + (l2 / 2) sum_k ||w_k||^2
 * </pre>
 *
 * with {@link Lbfgs}; the biases are not penalised. The problem is strictly convex in the weights
 * for l2 > 0, so the fit does not depend on where the optimiser starts, and in plain doubles it is
 * the same on every machine.
 *
 * <p>Only the classes that occur in the fit data get weights: a class without a fit example has no
 * evidence to learn from, so it scores negative infinity (never predicted) instead of driving its
 * bias to minus infinity.
 */
final class LogisticRegression {

    static final int MAX_ITERATIONS = 1000;
    static final double GRADIENT_TOLERANCE = 1e-7;

    private final int classes;
    /** The labels of the modelled classes, ascending; model class k is label modelled[k]. */
    private final int[] modelled;
    private final double[][] weights;
    private final double[] biases;

    private LogisticRegression(int classes, int[] modelled, double[][] weights, double[] biases) {
        this.classes = classes;
        this.modelled = modelled;
        this.weights = weights;
        this.biases = biases;
    }

    /**
     * Fits rows {@code x} (all of one length) to labels {@code y} in 0 .. classes - 1.
     *
     * @param l2 the weights' penalty, at least 0
     */
    static LogisticRegression fit(float[][] x, int[] y, int classes, double l2) {
        if (x.length == 0) {
            throw new IllegalArgumentException("a logistic regression needs at least one example to fit");
        }
        int[] modelled = Arrays.stream(y).distinct().sorted().toArray();
        int[] index = new int[classes];
        Arrays.fill(index, -1);
        for (int k = 0; k < modelled.length; k++) {
            index[modelled[k]] = k;
        }
        int[] target = Arrays.stream(y).map(label -> index[label]).toArray();
        int k = modelled.length;
        int dim = x[0].length;
        double[][] weights = new double[k][dim];
        double[] biases = new double[k];
        if (k > 1) {
            double[] parameters = Lbfgs.minimise(
                    (theta, gradient) -> lossAndGradient(theta, gradient, x, target, k, dim, l2),
                    new double[k * dim + k], MAX_ITERATIONS, GRADIENT_TOLERANCE);
            for (int c = 0; c < k; c++) {
                System.arraycopy(parameters, c * dim, weights[c], 0, dim);
                biases[c] = parameters[k * dim + c];
            }
        }
        return new LogisticRegression(classes, modelled, weights, biases);
    }

    /** The logits of every class for one row; negative infinity for classes the fit data did not have. */
    double[] scores(float[] row) {
        double[] scores = new double[classes];
        Arrays.fill(scores, Double.NEGATIVE_INFINITY);
        for (int c = 0; c < modelled.length; c++) {
            double logit = biases[c];
            for (int j = 0; j < row.length; j++) {
                logit += weights[c][j] * row[j];
            }
            scores[modelled[c]] = logit;
        }
        return scores;
    }

    /** The mean negative log-likelihood of labelled rows (infinite when a row's class was not modelled). */
    double meanLogLoss(float[][] x, int[] y) {
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            double[] scores = scores(x[i]);
            sum += logSumExp(scores) - scores[y[i]];
        }
        return sum / x.length;
    }

    /** The accuracy of this model on labelled rows, at the given cut-offs. */
    ClassificationAccuracy accuracy(float[][] x, int[] y, int... cutOffs) {
        ClassificationAccuracy accuracy = new ClassificationAccuracy(classes, cutOffs);
        for (int i = 0; i < x.length; i++) {
            accuracy.add(y[i], scores(x[i]));
        }
        return accuracy;
    }

    /** A model and the L2 strength it was fitted with. */
    record Selection(LogisticRegression model, double l2) {}

    /**
     * Chooses the L2 strength from {@code grid} by the accuracy on a stratified validation split of
     * the given rows (ties: the lower validation log-loss, then the earlier in the grid), then refits
     * on all of them with it. A grid of one value is used as it is.
     */
    static Selection selectAndFit(float[][] x, int[] y, int classes, List<Double> grid, double validationFraction,
            long seed) {
        double best = grid.get(0);
        if (grid.size() > 1) {
            StratifiedSplit split = StratifiedSplit.of(y, validationFraction, seed);
            float[][] trainRows = StratifiedSplit.rows(x, split.fit());
            int[] trainLabels = StratifiedSplit.labels(y, split.fit());
            float[][] validationRows = StratifiedSplit.rows(x, split.test());
            int[] validationLabels = StratifiedSplit.labels(y, split.test());
            double bestAccuracy = Double.NEGATIVE_INFINITY;
            double bestLoss = Double.POSITIVE_INFINITY;
            for (double l2 : grid) {
                if (validationRows.length == 0) {
                    break;
                }
                LogisticRegression model = fit(trainRows, trainLabels, classes, l2);
                double accuracy = model.accuracy(validationRows, validationLabels, 1).accuracy(0);
                double loss = model.meanLogLoss(validationRows, validationLabels);
                if (accuracy > bestAccuracy || (accuracy == bestAccuracy && loss < bestLoss)) {
                    best = l2;
                    bestAccuracy = accuracy;
                    bestLoss = loss;
                }
            }
        }
        return new Selection(fit(x, y, classes, best), best);
    }

    /** Checks an L2 grid parameter: at least one value, each finite and at least 0. */
    static List<Double> checkGrid(String key, List<Double> grid) {
        if (grid == null || grid.isEmpty()) {
            throw new InvalidParamException(key, "must list at least one L2 strength, found " + grid
                    + "; e.g. [1e-4, 1e-3, 1e-2, 1e-1, 1]");
        }
        for (Double value : grid) {
            if (value == null || !Double.isFinite(value) || value < 0) {
                throw new InvalidParamException(key, "every L2 strength must be a finite number >= 0, found " + value
                        + " in " + grid);
            }
        }
        return List.copyOf(grid);
    }

    /** The objective above and its gradient; parameters are the k x dim weights row by row, then the k biases. */
    private static double lossAndGradient(double[] theta, double[] gradient, float[][] x, int[] target, int k, int dim,
            double l2) {
        Arrays.fill(gradient, 0);
        double[] logits = new double[k];
        double loss = 0;
        for (int i = 0; i < x.length; i++) {
            float[] row = x[i];
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < k; c++) {
                double logit = theta[k * dim + c];
                int offset = c * dim;
                for (int j = 0; j < dim; j++) {
                    logit += theta[offset + j] * row[j];
                }
                logits[c] = logit;
                max = Math.max(max, logit);
            }
            int y = target[i];
            double trueLogit = logits[y];
            double sum = 0;
            for (int c = 0; c < k; c++) {
                logits[c] = Math.exp(logits[c] - max);
                sum += logits[c];
            }
            loss += Math.log(sum) + max - trueLogit;
            for (int c = 0; c < k; c++) {
                // d loss_i / d logit_c = softmax_c - [c == y]
                double residual = logits[c] / sum - (c == y ? 1 : 0);
                int offset = c * dim;
                for (int j = 0; j < dim; j++) {
                    gradient[offset + j] += residual * row[j];
                }
                gradient[k * dim + c] += residual;
            }
        }
        double n = x.length;
        double penalty = 0;
        for (int p = 0; p < gradient.length; p++) {
            gradient[p] /= n;
        }
        for (int p = 0; p < k * dim; p++) {
            penalty += theta[p] * theta[p];
            gradient[p] += l2 * theta[p];
        }
        return loss / n + 0.5 * l2 * penalty;
    }

    private static double logSumExp(double[] values) {
        double max = Double.NEGATIVE_INFINITY;
        for (double value : values) {
            max = Math.max(max, value);
        }
        if (max == Double.NEGATIVE_INFINITY) {
            return max;
        }
        double sum = 0;
        for (double value : values) {
            sum += Math.exp(value - max);
        }
        return Math.log(sum) + max;
    }
}
