package dev.modalign.plugins.mlflow;

import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.mlflow_project.google.gson.JsonObject;

/**
 * One run in MLflow. Each call appends a record to the run's spool and queues it for the tracker's
 * sender thread; only {@link #end} waits, for at most {@code end_wait_s}, until the server has it all.
 */
final class MlflowRun implements TrackedRun {

    private static final System.Logger LOG = System.getLogger(MlflowRun.class.getName());

    private final MlflowTracker tracker;
    private final RunSpool spool;
    /** Owned by whoever holds {@link #sending}: the sender thread, or startRun's first attempt. */
    private final SpoolState state;
    private final ConcurrentLinkedQueue<SpoolRecord> appended = new ConcurrentLinkedQueue<>();
    private final Deque<SpoolRecord> pending = new ArrayDeque<>();
    private final Object sending = new Object();
    private final Object progress = new Object();
    private volatile String serverRunId;
    private volatile String experimentId;
    private volatile long ackedSeq;
    private volatile boolean blocked;
    private volatile boolean done;
    private int artifacts;
    private final java.util.Set<String> renamed = new java.util.HashSet<>();

    MlflowRun(MlflowTracker tracker, RunSpool spool, RunSpec spec) {
        this.tracker = tracker;
        this.spool = spool;
        this.state = spool.loadState();
        JsonObject start = new JsonObject();
        start.addProperty("experiment", spec.experiment());
        start.addProperty("run_name", spec.runName());
        if (spec.parentRunId() != null) {
            start.addProperty("parent_run_id", spec.parentRunId());
        }
        append("start", start);
    }

    /** A run continued in its own (locked) spool: what it had not sent yet goes first, then a {@code resume} record. */
    private MlflowRun(MlflowTracker tracker, RunSpool spool) {
        this.tracker = tracker;
        this.spool = spool;
        SpoolState loaded = spool.loadState();
        loaded.done = false;
        spool.saveState(loaded);
        this.state = loaded;
        this.serverRunId = loaded.runId;
        this.experimentId = loaded.experimentId;
        this.ackedSeq = loaded.ackedSeq;
        List<SpoolRecord> unsent = spool.readAfter(loaded.ackedSeq);
        appended.addAll(unsent);
        // Artifact copies are numbered in the spool; go on after the highest, so that no unsent copy is overwritten.
        for (SpoolRecord record : spool.readAfter(0)) {
            if (record.kind().equals("artifact") && record.data().has("copy")) {
                String copy = record.data().get("copy").getAsString();
                try {
                    artifacts = Math.max(artifacts, Integer.parseInt(copy.substring(0, copy.indexOf('-'))));
                } catch (RuntimeException e) {
                    // A copy name of another form: nothing to go on after.
                }
            }
        }
        append("resume", new JsonObject());
    }

    /** Continues the run of {@code spool}, which the caller has locked. */
    static MlflowRun resume(MlflowTracker tracker, RunSpool spool) {
        return new MlflowRun(tracker, spool);
    }

    @Override
    public String id() {
        String id = serverRunId;
        return id != null ? id : state.localId;
    }

    String localId() {
        return state.localId;
    }

    String serverRunId() {
        return serverRunId;
    }

    Path spoolDir() {
        return spool.dir();
    }

    @Override
    public String location() {
        String id = serverRunId;
        if (id != null) {
            return tracker.uri() + "/#/experiments/" + experimentId + "/runs/" + id;
        }
        return tracker.uri() + " (unreachable now; spooled in " + spool.dir() + " and sent when it is back)";
    }

    @Override
    public void logParams(Map<String, String> params) {
        append("params", object(params));
    }

    @Override
    public void setTags(Map<String, String> tags) {
        append("tags", object(tags));
    }

    @Override
    public void logMetric(String key, double value, long step) {
        JsonObject data = new JsonObject();
        data.addProperty("key", mlflowName(key));
        data.addProperty("value", value);
        data.addProperty("step", step);
        // The timestamp is the call's, kept in the spool: a record sent twice is the same metric.
        data.addProperty("timestamp", System.currentTimeMillis());
        append("metric", data);
    }

    @Override
    public void logArtifact(Path file, String artifactPath) {
        Path normal = Path.of(artifactPath).normalize();
        if (normal.isAbsolute() || normal.startsWith("..") || artifactPath.isBlank()) {
            throw new IllegalArgumentException("artifact path must be relative and stay inside the run, found " + artifactPath);
        }
        // A copy now: the file may change or go before the server is reachable.
        String copyName;
        synchronized (this) {
            copyName = (++artifacts) + "-" + normal.getFileName();
        }
        try {
            Files.copy(file, spool.artifactCopy(copyName), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy artifact " + file + " into the MLflow spool: " + e.getMessage(), e);
        }
        JsonObject data = new JsonObject();
        data.addProperty("path", normal.toString().replace('\\', '/'));
        data.addProperty("copy", copyName);
        append("artifact", data);
    }

    @Override
    public void end(RunStatus status, String message) {
        long endSeq = appendEnd(status, message);
        tracker.wake();
        long deadline = System.currentTimeMillis() + tracker.endWaitMillis();
        synchronized (progress) {
            long left;
            while (ackedSeq < endSeq && !blocked && (left = deadline - System.currentTimeMillis()) > 0) {
                try {
                    progress.wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        if (ackedSeq < endSeq) {
            LOG.log(Level.WARNING, unsentCount() + " records of MLflow run " + id() + " are not on " + tracker.uri()
                    + " yet; they stay in " + spool.dir() + " and 'modalign sync' sends them");
        }
    }

    private long appendEnd(RunStatus status, String message) {
        SpoolRecord end = spool.append("end", endData(status, message));
        appended.add(end);
        return end.seq();
    }

    /** Ends a spool whose run is gone (for a sync). */
    static void appendEnd(RunSpool spool, RunStatus status, String message) {
        spool.append("end", endData(status, message));
    }

    private static JsonObject endData(RunStatus status, String message) {
        JsonObject data = new JsonObject();
        data.addProperty("status", status.name());
        if (message != null) {
            data.addProperty("message", message);
        }
        return data;
    }

    private void append(String kind, JsonObject data) {
        appended.add(spool.append(kind, data));
    }

    /** Sends what is queued; false when the server is away (try again later). */
    boolean sendPending() {
        synchronized (sending) {
            if (blocked || done) {
                return true;
            }
            for (SpoolRecord record; (record = appended.poll()) != null; ) {
                pending.add(record);
            }
            try {
                tracker.sender().send(spool, state, pending);
                tracker.serverBack();
                return true;
            } catch (ServerUnavailableException e) {
                tracker.serverAway(e);
                return false;
            } catch (RequestRejectedException e) {
                blocked = true;
                LOG.log(Level.WARNING, "MLflow refused run " + id() + " (" + e + "); its records stay in " + spool.dir()
                        + " for 'modalign sync'");
                return true;
            } catch (RuntimeException e) {
                // A bug or a full disk must not kill the sender thread: keep the records for a sync.
                blocked = true;
                LOG.log(Level.ERROR, "cannot send MLflow run " + id() + "; its records stay in " + spool.dir(), e);
                return true;
            } finally {
                serverRunId = state.runId;
                experimentId = state.experimentId;
                ackedSeq = state.ackedSeq;
                done = state.done;
                synchronized (progress) {
                    progress.notifyAll();
                }
            }
        }
    }

    boolean finished() {
        return done || blocked;
    }

    long unsentCount() {
        return spool.lastSeq() - ackedSeq;
    }

    /** The spool as this run left it, for tests. */
    SpoolState state() {
        return spool.loadState();
    }

    void release() {
        spool.close();
    }

    private JsonObject object(Map<String, String> values) {
        JsonObject data = new JsonObject();
        values.forEach((key, value) -> data.addProperty(mlflowName(key), value));
        return data;
    }

    /**
     * The name as MLflow 2.17 accepts it: letters, digits, '_', '-', '.', ' ', ':' and '/'; any other
     * character (the '@' of R@1) becomes '_', once reported, instead of the whole record being refused.
     */
    private String mlflowName(String key) {
        String name = serverName(key);
        if (!name.equals(key) && renamed.add(key)) {
            LOG.log(Level.WARNING, "MLflow refuses the name '" + key + "'; run " + id() + " logs it as '" + name + "'");
        }
        return name;
    }

    /** The name MLflow keeps for {@code key}: each character it refuses becomes '_'. */
    static String serverName(String key) {
        return key.replaceAll("[^A-Za-z0-9_\\-. :/]", "_");
    }
}
