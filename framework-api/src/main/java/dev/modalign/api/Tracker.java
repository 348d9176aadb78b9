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

    /** Flushes what is pending and releases resources; runs not yet ended are left as they are. */
    @Override
    void close();
}
