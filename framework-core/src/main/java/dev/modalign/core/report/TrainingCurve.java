package dev.modalign.core.report;

import dev.modalign.api.MetricPoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A metric's history averaged over a method's seeds: at each step, the mean of the runs that logged
 * the metric at that step.
 *
 * @param method the method's name
 * @param steps the steps, ascending
 * @param mean the mean at each step
 * @param runs how many runs' histories went in
 */
public record TrainingCurve(String method, List<Long> steps, List<Double> mean, int runs) {

    public TrainingCurve {
        steps = List.copyOf(steps);
        mean = List.copyOf(mean);
    }

    /**
     * The mean over {@code histories}, one per run; a run that logged the metric twice at a step (a
     * resumed run) counts with its last value there. Non-finite values are left out of the mean.
     */
    public static TrainingCurve of(String method, List<List<MetricPoint>> histories) {
        Map<Long, double[]> sums = new TreeMap<>();
        int runs = 0;
        for (List<MetricPoint> history : histories) {
            if (history.isEmpty()) {
                continue;
            }
            runs++;
            Map<Long, Double> last = new TreeMap<>();
            history.forEach(point -> last.put(point.step(), point.value()));
            last.forEach((step, value) -> {
                if (Double.isFinite(value)) {
                    double[] sum = sums.computeIfAbsent(step, s -> new double[2]);
                    sum[0] += value;
                    sum[1]++;
                }
            });
        }
        List<Long> steps = new ArrayList<>();
        List<Double> mean = new ArrayList<>();
        sums.forEach((step, sum) -> {
            steps.add(step);
            mean.add(sum[0] / sum[1]);
        });
        return new TrainingCurve(method, steps, mean, runs);
    }

    public boolean isEmpty() {
        return steps.isEmpty();
    }
}
