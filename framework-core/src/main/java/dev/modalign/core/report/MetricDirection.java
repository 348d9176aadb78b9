package dev.modalign.core.report;

import java.util.Locale;
import java.util.Set;

/** Which way a metric improves, for marking the best method in a column. */
public enum MetricDirection {
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER;

    /**
     * Lower is better for the keys named in {@code lowerIsBetter} and for any key whose name says
     * loss ({@code train/loss}, {@code eval/probe/val_loss}); higher is better for the rest (recall,
     * accuracy, MRR).
     */
    public static MetricDirection of(String key, Set<String> lowerIsBetter) {
        return lowerIsBetter.contains(key) || key.toLowerCase(Locale.ROOT).contains("loss") ? LOWER_IS_BETTER
                : HIGHER_IS_BETTER;
    }

    /** Whether {@code a} is better than {@code b}. */
    public boolean better(double a, double b) {
        return this == HIGHER_IS_BETTER ? a > b : a < b;
    }

    /** "higher" or "lower", as results.json says it. */
    public String word() {
        return this == HIGHER_IS_BETTER ? "higher" : "lower";
    }
}
