package dev.modalign.core.bench;

import java.util.Arrays;
import java.util.List;
import java.util.function.ToDoubleFunction;

/** The median and range of a measurement over several runs: the bench reports medians, the machine being noisy. */
record Samples(double median, double min, double max, int count) {

    static <T> Samples of(List<T> runs, ToDoubleFunction<T> value) {
        double[] values = runs.stream().mapToDouble(value).filter(v -> !Double.isNaN(v)).sorted().toArray();
        if (values.length == 0) {
            return new Samples(Double.NaN, Double.NaN, Double.NaN, 0);
        }
        int n = values.length;
        double median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
        return new Samples(median, values[0], values[n - 1], n);
    }

    static Samples of(double... values) {
        return of(Arrays.stream(values).boxed().toList(), Double::doubleValue);
    }

    /** "41.2 (40.1-42.0)", or "-" without values. */
    String format(String pattern) {
        if (count == 0) {
            return "-";
        }
        return String.format(pattern, median) + (count > 1 ? " (" + String.format(pattern, min) + "-"
                + String.format(pattern, max) + ")" : "");
    }
}
