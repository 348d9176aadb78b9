package dev.modalign.core.report;

import dev.modalign.api.RecordedRun;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Methods x metrics: each cell the {@link MetricSummary} of the method's finished runs' last values,
 * and per metric the methods whose mean is the best.
 *
 * @param metrics the columns, in order
 * @param directions which way each column improves
 * @param cells method name -> metric -> summary
 * @param best metric -> the methods with the best mean; empty when no method beats another (one
 *     method, or every mean the same, as a chance level is)
 */
public record ComparisonTable(List<String> metrics, Map<String, MetricDirection> directions,
        Map<String, Map<String, MetricSummary>> cells, Map<String, Set<String>> best) {

    /** Aggregates {@code metrics} over each method's finished runs. */
    public static ComparisonTable of(List<Method> methods, List<String> metrics, Set<String> lowerIsBetter) {
        Map<String, MetricDirection> directions = new LinkedHashMap<>();
        metrics.forEach(metric -> directions.put(metric, MetricDirection.of(metric, lowerIsBetter)));
        Map<String, Map<String, MetricSummary>> cells = new LinkedHashMap<>();
        for (Method method : methods) {
            Map<String, MetricSummary> row = new LinkedHashMap<>();
            for (String metric : metrics) {
                List<Double> values = new ArrayList<>();
                for (RecordedRun run : method.finished()) {
                    Double value = run.metrics().get(metric);
                    if (value != null) {
                        values.add(value);
                    }
                }
                row.put(metric, MetricSummary.of(values));
            }
            cells.put(method.name(), row);
        }
        Map<String, Set<String>> best = new LinkedHashMap<>();
        for (String metric : metrics) {
            best.put(metric, best(cells, metric, directions.get(metric)));
        }
        return new ComparisonTable(List.copyOf(metrics), directions, cells, best);
    }

    private static Set<String> best(Map<String, Map<String, MetricSummary>> cells, String metric,
            MetricDirection direction) {
        Double top = null;
        boolean anyWorse = false;
        for (Map<String, MetricSummary> row : cells.values()) {
            MetricSummary summary = row.get(metric);
            if (summary.isEmpty()) {
                continue;
            }
            if (top == null) {
                top = summary.mean();
            } else if (same(summary.mean(), top)) {
                continue;
            } else if (direction.better(summary.mean(), top)) {
                top = summary.mean();
                anyWorse = true;
            } else {
                anyWorse = true;
            }
        }
        Set<String> best = new LinkedHashSet<>();
        if (top == null || !anyWorse) {
            return best;
        }
        for (Map.Entry<String, Map<String, MetricSummary>> row : cells.entrySet()) {
            MetricSummary summary = row.getValue().get(metric);
            if (!summary.isEmpty() && same(summary.mean(), top)) {
                best.add(row.getKey());
            }
        }
        return best;
    }

    /**
     * Means equal but for rounding: (4/118 + 5/118) / 2 and (3/118 + 6/118) / 2 differ in the last bit,
     * and one hit more or less on 118 pairs is what separates methods, not 1e-17.
     */
    static boolean same(double a, double b) {
        return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
    }

    public MetricSummary cell(String method, String metric) {
        return cells.get(method).get(metric);
    }

    public boolean isBest(String method, String metric) {
        return best.get(metric).contains(method);
    }
}
