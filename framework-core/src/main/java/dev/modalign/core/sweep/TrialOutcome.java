package dev.modalign.core.sweep;

import dev.modalign.api.RunStatus;
import java.nio.file.Path;
import java.util.Map;

/**
 * How a trial ended.
 *
 * @param trial the trial
 * @param status FINISHED, FAILED (the run failed, the process crashed or could not start) or KILLED
 * @param runId its run's id in the tracker, or null when it never got one
 * @param metrics its final metrics (evaluation, final training loss, throughput); empty unless finished
 * @param seconds wall time of its process
 * @param message why it failed, or null
 * @param log its process's output
 */
public record TrialOutcome(Trial trial, RunStatus status, String runId, Map<String, Double> metrics, double seconds,
        String message, Path log) {

    public boolean finished() {
        return status == RunStatus.FINISHED;
    }
}
