package dev.modalign.core.report;

import java.util.List;

/**
 * A metric of one method over its seeds: the mean, the sample standard deviation (divided by n - 1,
 * the spread a new seed is expected to show, not the population's n) and how many runs gave a value.
 *
 * @param mean the mean of {@code values}, NaN when there is none
 * @param std the sample standard deviation, NaN when fewer than two values
 * @param values the values, one per finished run that logged the metric, in the runs' order
 */
public record MetricSummary(double mean, double std, List<Double> values) {

    public MetricSummary {
        values = List.copyOf(values);
    }

    /**
     * The summary of the finite values; a NaN or infinite value (a run whose evaluation diverged) is
     * left out, so that n says how many runs the mean stands on.
     */
    public static MetricSummary of(List<Double> values) {
        List<Double> finite = values.stream().filter(Double::isFinite).toList();
        int n = finite.size();
        if (n == 0) {
            return new MetricSummary(Double.NaN, Double.NaN, finite);
        }
        double sum = 0;
        for (double value : finite) {
            sum += value;
        }
        double mean = sum / n;
        if (n < 2) {
            return new MetricSummary(mean, Double.NaN, finite);
        }
        // Two passes: the squared deviations from the mean, not E[x^2] - E[x]^2, which cancels badly.
        double squares = 0;
        for (double value : finite) {
            squares += (value - mean) * (value - mean);
        }
        return new MetricSummary(mean, Math.sqrt(squares / (n - 1)), finite);
    }

    /** How many values the summary stands on. */
    public int n() {
        return values.size();
    }

    public boolean isEmpty() {
        return values.isEmpty();
    }
}
