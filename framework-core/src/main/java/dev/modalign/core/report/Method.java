package dev.modalign.core.report;

import dev.modalign.api.RecordedRun;
import dev.modalign.api.RunStatus;
import java.util.List;

/**
 * One row of a report: the runs that differ only by seed (one experiment, or one setting of the
 * swept parameters).
 *
 * @param name the row's label: the experiment's name, or the grouping parameters' values
 * @param key what the row is sorted by: the grouping values, one per grouping key
 * @param runs its runs, by seed and then run id; finished or not
 */
public record Method(String name, List<String> key, List<RecordedRun> runs) {

    public Method {
        key = List.copyOf(key);
        runs = List.copyOf(runs);
    }

    /** The runs that finished: only these are aggregated. */
    public List<RecordedRun> finished() {
        return runs.stream().filter(run -> run.info().status() == RunStatus.FINISHED).toList();
    }

    /** The runs that failed, were killed or are still running: listed, not aggregated. */
    public List<RecordedRun> unfinished() {
        return runs.stream().filter(run -> run.info().status() != RunStatus.FINISHED).toList();
    }

    /** A run's seed: its {@code seed} parameter, else its {@code modalign.seed} tag, else "". */
    public static String seedOf(RecordedRun run) {
        String seed = run.params().get("seed");
        return seed != null ? seed : run.tags().getOrDefault("modalign.seed", "");
    }
}
