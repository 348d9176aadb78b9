package dev.modalign.core.train;

import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import dev.modalign.core.RunFailure;
import java.nio.file.Path;
import java.util.Map;

/**
 * A tracked run whose recording failures stop training with a message that says what to do. A tracker
 * that cannot record (its spool's disk is full or unwritable) throws; training must not go on losing
 * records, and the run can be continued from its last checkpoint once the disk is fixed.
 */
final class GuardedRun implements TrackedRun {

    private final TrackedRun run;
    private final String resumeHint;

    GuardedRun(TrackedRun run, String resumeHint) {
        this.run = run;
        this.resumeHint = resumeHint;
    }

    @Override
    public String id() {
        return run.id();
    }

    @Override
    public String location() {
        return run.location();
    }

    @Override
    public void logParams(Map<String, String> params) {
        guard(() -> run.logParams(params));
    }

    @Override
    public void setTags(Map<String, String> tags) {
        guard(() -> run.setTags(tags));
    }

    @Override
    public void logMetric(String key, double value, long step) {
        guard(() -> run.logMetric(key, value, step));
    }

    @Override
    public void logArtifact(Path file, String artifactPath) {
        guard(() -> run.logArtifact(file, artifactPath));
    }

    @Override
    public void end(RunStatus status, String message) {
        run.end(status, message);
    }

    private void guard(Runnable call) {
        try {
            call.run();
        } catch (RunFailure e) {
            throw e;
        } catch (RuntimeException e) {
            throw new RunFailure("the tracker cannot record run " + run.id() + ", so training stops rather than lose"
                    + " records: " + (e.getMessage() == null ? e.toString() : e.getMessage()) + "; free disk space or fix"
                    + " the directory, then " + resumeHint, e);
        }
    }
}
