package dev.modalign.api;

import java.nio.file.Path;
import java.util.Map;

/**
 * One run in a tracker. Calls may be batched and sent off the calling thread; they never block
 * training on the network. Called from the training thread only.
 */
public interface TrackedRun {

    /** The run's id in its store. */
    String id();

    /** Where a person finds the run: a directory or a URL. */
    String location();

    void logParams(Map<String, String> params);

    void setTags(Map<String, String> tags);

    /** Logs one value of a metric at a step; names are grouped with '/' (train/loss). */
    void logMetric(String key, double value, long step);

    /** Copies a file into the run's artifacts under {@code artifactPath} (a relative path). */
    void logArtifact(Path file, String artifactPath);

    /** Ends the run; a FAILED or KILLED run carries the message. */
    void end(RunStatus status, String message);
}
