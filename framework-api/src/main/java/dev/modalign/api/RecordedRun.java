package dev.modalign.api;

import java.util.Map;

/**
 * A run as a tracker gives it back: enough to run it again, to say what changed, and to compare it
 * with others in a report.
 *
 * @param runId the run's id in its store
 * @param resolvedYaml the resolved configuration it recorded (artifact config/resolved.yaml); empty
 *     where the tracker gives back runs in bulk without their artifacts
 * @param params its flattened parameters
 * @param tags its tags (plugin versions, source revision, data fingerprints, seed)
 * @param metrics the last value of each metric
 * @param info where and when it ran: its experiment, name, status and parent
 */
public record RecordedRun(String runId, String resolvedYaml, Map<String, String> params, Map<String, String> tags,
        Map<String, Double> metrics, Info info) {

    /**
     * @param experiment the experiment's name
     * @param runName the run's human-readable name
     * @param status RUNNING, FINISHED, FAILED or KILLED
     * @param parentRunId the sweep parent's run id, or null
     * @param startTime milliseconds since the epoch, 0 when unknown
     * @param endTime milliseconds since the epoch, 0 while running or unknown
     */
    public record Info(String experiment, String runName, RunStatus status, String parentRunId, long startTime,
            long endTime) {

        /** What a tracker that does not know a run's details gives. */
        public static final Info UNKNOWN = new Info("", "", RunStatus.FINISHED, null, 0, 0);
    }

    /** A run whose details beyond its configuration, parameters, tags and metrics are unknown (API 1.0). */
    public RecordedRun(String runId, String resolvedYaml, Map<String, String> params, Map<String, String> tags,
            Map<String, Double> metrics) {
        this(runId, resolvedYaml, params, tags, metrics, Info.UNKNOWN);
    }
}
