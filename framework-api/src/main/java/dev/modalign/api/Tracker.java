package dev.modalign.api;

/**
 * Where runs are recorded: the embedded local store, MLflow. One tracker serves a whole command
 * (a run, or a sweep's parent and trials).
 */
public interface Tracker extends AutoCloseable {

    /** Opens a run; the run's records go to this tracker until {@link TrackedRun#end}. */
    TrackedRun startRun(RunSpec spec);

    /**
     * Sends the records earlier runs kept on disk while the tracking server was unreachable, in
     * order and each once; returns how many were sent. Trackers without a server send nothing.
     */
    default long sync() {
        return 0;
    }

    /**
     * A run recorded earlier in this store, for {@code modalign rerun}; empty when there is no such
     * run or the store cannot give runs back.
     */
    default java.util.Optional<RecordedRun> fetchRun(String runId) {
        return java.util.Optional.empty();
    }

    /**
     * The runs of an experiment, sweep parents and trials included, with their last metric values;
     * {@link RecordedRun#resolvedYaml()} may be empty. Empty when the experiment does not exist or
     * the store cannot give runs back.
     */
    default java.util.List<RecordedRun> searchRuns(String experiment) {
        return java.util.List.of();
    }

    /** Every logged value of one metric of a run, in step order; empty when there is none. */
    default java.util.List<MetricPoint> metricHistory(String runId, String key) {
        return java.util.List.of();
    }

    /**
     * A local copy of one artifact of a run (e.g. {@code checkpoint/image.params}), downloaded where the
     * store is remote; empty when there is no such run or artifact, or the store cannot give it back.
     */
    default java.util.Optional<java.nio.file.Path> fetchArtifact(String runId, String artifactPath) {
        return java.util.Optional.empty();
    }

    /**
     * Continues a run recorded earlier in this store ({@code modalign run --resume}): the run is RUNNING
     * again and the returned run's records follow what it already holds, under the same id, until {@link
     * TrackedRun#end}. Empty when there is no such run or the store cannot continue runs. Fails when the
     * run is still being recorded by a live process.
     */
    default java.util.Optional<TrackedRun> resumeRun(String runId) {
        return java.util.Optional.empty();
    }

    /** Flushes what is pending and releases resources; runs not yet ended are left as they are. */
    @Override
    void close();
}
