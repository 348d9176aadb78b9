package dev.modalign.core.sweep;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Mean and sample standard deviation of every metric over the seeds of each configuration of a
 * sweep, from its finished trials; failed trials count in {@code n_failed} only.
 */
public final class SweepAggregates {

    /** One configuration's statistics: metric name to its values over finished seeds. */
    public record Group(String label, List<TrialOutcome> outcomes, Map<String, List<Double>> values) {

        public long finished() {
            return outcomes.stream().filter(TrialOutcome::finished).count();
        }

        public long failed() {
            return outcomes.size() - finished();
        }
    }

    private SweepAggregates() {}

    /** Groups outcomes by their configuration (seeds aside), in trial order. */
    public static List<Group> groups(List<TrialOutcome> outcomes) {
        Map<String, Group> groups = new LinkedHashMap<>();
        for (TrialOutcome outcome : outcomes) {
            Group group = groups.computeIfAbsent(outcome.trial().group(),
                    label -> new Group(label, new ArrayList<>(), new LinkedHashMap<>()));
            group.outcomes().add(outcome);
            if (outcome.finished()) {
                outcome.metrics().forEach((key, value) -> group.values().computeIfAbsent(key, k -> new ArrayList<>()).add(value));
            }
        }
        return List.copyOf(groups.values());
    }

    public static double mean(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    /** The sample standard deviation (n - 1 in the denominator); 0 for a single value. */
    public static double std(List<Double> values) {
        if (values.size() < 2) {
            return 0;
        }
        double mean = mean(values);
        double squares = values.stream().mapToDouble(v -> (v - mean) * (v - mean)).sum();
        return Math.sqrt(squares / (values.size() - 1));
    }

    /**
     * The metrics the parent run logs: {@code <metric>/mean}, {@code /std} and {@code /n} when only seeds
     * vary, else the same under {@code <configuration>/}, plus the trial counts.
     */
    public static Map<String, Double> parentMetrics(List<Group> groups) {
        Map<String, Double> metrics = new LinkedHashMap<>();
        boolean single = groups.size() == 1;
        for (Group group : groups) {
            String prefix = single ? "" : metricSafe(group.label()) + "/";
            group.values().forEach((key, values) -> {
                metrics.put(limit(prefix + key + "/mean"), mean(values));
                metrics.put(limit(prefix + key + "/std"), std(values));
                metrics.put(limit(prefix + key + "/n"), (double) values.size());
            });
        }
        metrics.put("sweep/trials_finished", (double) groups.stream().mapToLong(Group::finished).sum());
        metrics.put("sweep/trials_failed", (double) groups.stream().mapToLong(Group::failed).sum());
        return metrics;
    }

    /** MLflow accepts letters, digits, _ - . space : / in metric names; the rest become _, "=" a ":". */
    static String metricSafe(String label) {
        return label.replace('=', ':').replaceAll("[^A-Za-z0-9_\\-. :/]", "_").replace('/', '_');
    }

    /** MLflow's limit on a metric name is 250 characters; a longer one keeps its end and a hash of the whole. */
    private static String limit(String key) {
        if (key.length() <= 250) {
            return key;
        }
        String hash = Integer.toHexString(key.hashCode());
        return hash + "_" + key.substring(key.length() - (250 - hash.length() - 1));
    }
}
