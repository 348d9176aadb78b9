package dev.modalign.core.config;

import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.nodes.Node;

/**
 * A {@code sweep:} block: the trials an experiment file expands into. Each trial is the file with
 * some values replaced (as {@code --set path=value} would), run in its own process as a child of one
 * parent run, which carries the aggregates over seeds.
 *
 * <pre>
 * sweep:
 *   grid: {losses.0.type: [clip, siglip], train.optimizer.lr: [1e-3, 3e-3]}
 *   random: {trials: 4, params: {train.warmup: {uniform: [0.0, 0.1]}, losses.0.temperature: {log_uniform: [0.03, 0.3]}}}
 *   seeds: [1, 2, 3]
 *   parallel: 2
 * </pre>
 *
 * Trials are the grid's combinations, times the random samples, times the seeds.
 */
public record SweepSpec(
        @Doc("Parameter path (as for --set: losses.0.type, train.optimizer.lr) to the values to try; every "
                + "combination is a trial.") @Default("{}") Map<String, List<Node>> grid,
        @Doc("Random search: trials drawn from distributions, combined with each grid point.") @Default("null")
                RandomSpec random,
        @Doc("Seeds every trial runs with; the parent logs mean and standard deviation over them. Empty: the "
                + "file's seed (or a 'seed' axis of the grid).") @Default("[]") List<Long> seeds,
        @Doc("Trials running at once, each in its own process.") @Default("1") int parallel,
        @Doc("Threads each trial's PyTorch may use (0: leave train.threads as it is).") @Default("0") int threadsPerTrial,
        @Doc("Stop starting new trials after this many have failed (0: run them all whatever fails).") @Default("0")
                int maxFailures) {

    public SweepSpec {
        grid = grid == null ? Map.of() : grid;
        seeds = seeds == null ? List.of() : List.copyOf(seeds);
        if (parallel < 1) {
            throw new InvalidParamException("parallel", "must be at least 1, found " + parallel);
        }
        if (threadsPerTrial < 0) {
            throw new InvalidParamException("threads_per_trial", "must be 0 or more, found " + threadsPerTrial);
        }
        if (maxFailures < 0) {
            throw new InvalidParamException("max_failures", "must be 0 (no limit) or more, found " + maxFailures);
        }
        if (seeds.size() != seeds.stream().distinct().count()) {
            throw new InvalidParamException("seeds", "lists a seed twice: " + seeds + "; list each once");
        }
        for (Map.Entry<String, List<Node>> axis : grid.entrySet()) {
            if (axis.getValue() == null || axis.getValue().isEmpty()) {
                throw new InvalidParamException("grid." + axis.getKey(), "needs at least one value, e.g. [0.1, 0.2]");
            }
        }
        if (grid.isEmpty() && random == null && seeds.isEmpty()) {
            throw new InvalidParamException("sweep", "has nothing to vary: give grid, random or seeds, e.g. "
                    + "grid: {losses.0.temperature: [0.05, 0.1]}");
        }
    }

    /**
     * Random search.
     *
     * @param trials how many points to draw
     * @param seed the seed of the draws
     * @param params parameter path to a distribution
     */
    public record RandomSpec(
            @Doc("How many points to draw.") int trials,
            @Doc("The seed of the draws (independent of the runs' seeds).") @Default("0") long seed,
            @Doc("Parameter path to a distribution: {uniform: [lo, hi]}, {log_uniform: [lo, hi]}, {int: [lo, hi]} "
                    + "(inclusive) or {choice: [a, b, ...]} (a plain list is a choice too).") Map<String, Node> params) {

        public RandomSpec {
            if (trials < 1) {
                throw new InvalidParamException("trials", "must be at least 1, found " + trials);
            }
            if (params == null || params.isEmpty()) {
                throw new InvalidParamException("params", "name at least one parameter, e.g. "
                        + "{train.optimizer.lr: {log_uniform: [1e-4, 1e-2]}}");
            }
        }
    }
}
