package dev.modalign.plugins.mlflow;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.MetricPoint;
import dev.modalign.api.RecordedRun;
import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import dev.modalign.api.Tracker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * Records runs in an MLflow tracking server. Every call of a {@link TrackedRun} is first appended to
 * the run's {@link RunSpool} on disk; one daemon thread per tracker sends the spools in order through
 * a {@link SpoolSender}, and backs off while the server is away. The training thread never waits on
 * the network, except {@link TrackedRun#end}, for at most {@code end_wait_s}, and {@link #startRun},
 * which tries once to create the run so that its id is the server's.
 */
public final class MlflowTracker implements Tracker {

    static final String LOCAL_ID_PREFIX = "local-";
    private static final System.Logger LOG = System.getLogger(MlflowTracker.class.getName());
    private static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS");
    /** The longest pause between two attempts while the server is away. */
    private static final long MAX_BACKOFF_MS = 8_000;

    /** The tracker's parameters: {@code tracking.uri} and {@code tracking.options}. */
    public record Params(
            @Doc("The MLflow tracking server, http:// or https://") String uri,
            @Doc("Seconds a request to the server may take (connecting and answering)") @Default("10") double requestTimeoutS,
            @Doc("Milliseconds between two sends of the spooled records") @Default("1000") long flushIntervalMs,
            @Doc("Where the spool lives (default: the cache directory's mlflow-spool)") @Default("") String spoolDir,
            @Doc("Seconds the end of a run waits for its records to reach the server before leaving the rest to"
                    + " 'modalign sync'") @Default("30") double endWaitS) {
        public Params {
            if (uri == null || !(uri.startsWith("http://") || uri.startsWith("https://"))) {
                throw new InvalidParamException("uri", "must be an http:// or https:// URL of an MLflow server, found "
                        + uri + "; start one with scripts/mlflow-server start");
            }
            try {
                URI.create(uri);
            } catch (IllegalArgumentException e) {
                throw new InvalidParamException("uri", "is not a valid URL (" + e.getMessage() + "), found " + uri);
            }
            if (!(requestTimeoutS > 0)) {
                throw new InvalidParamException("request_timeout_s", "must be > 0, found " + requestTimeoutS);
            }
            if (flushIntervalMs < 1) {
                throw new InvalidParamException("flush_interval_ms", "must be >= 1, found " + flushIntervalMs);
            }
            if (!(endWaitS >= 0)) {
                throw new InvalidParamException("end_wait_s", "must be >= 0, found " + endWaitS);
            }
            spoolDir = spoolDir == null ? "" : spoolDir;
        }

        /** The defaults with a server URI. */
        public static Params of(String uri) {
            return new Params(uri, 10, 1000, "", 30);
        }
    }

    private final Params params;
    private final MlflowRestApi api;
    private final RunReader reader;
    private final Path spoolDir;
    private final SpoolSender sender;
    private final List<MlflowRun> live = new CopyOnWriteArrayList<>();
    private final Object wake = new Object();
    private final Thread daemon;
    private volatile boolean closed;
    private volatile boolean serverAway;

    public MlflowTracker(Params params, ComponentContext context) {
        this(params, context, System.getenv());
    }

    /** With the environment given, for tests of the credentials it reads. */
    MlflowTracker(Params params, ComponentContext context, Map<String, String> environment) {
        this.params = params;
        this.api = new MlflowRestApi(URI.create(params.uri()), Duration.ofMillis((long) (params.requestTimeoutS() * 1000)),
                environment);
        this.spoolDir = params.spoolDir().isEmpty() ? context.cacheDir().resolve("mlflow-spool")
                : context.baseDir().resolve(params.spoolDir());
        try {
            Files.createDirectories(spoolDir);
        } catch (IOException e) {
            throw new InvalidParamException("spool_dir", "cannot create " + spoolDir + " (" + e.getMessage() + ")");
        }
        this.sender = new SpoolSender(api, this::serverRunIdOf);
        this.reader = new RunReader(api);
        this.daemon = new Thread(this::sendLoop, "modalign-mlflow-sender");
        daemon.setDaemon(true);
        daemon.start();
    }

    Path spoolDir() {
        return spoolDir;
    }

    @Override
    public TrackedRun startRun(RunSpec spec) {
        String localId = LOCAL_ID_PREFIX + LocalDateTime.now().format(ID_TIME) + "-" + HexFormat.of().formatHex(randomBytes());
        RunSpool spool = RunSpool.create(spoolDir, localId);
        MlflowRun run = new MlflowRun(this, spool, spec);
        // One attempt on this thread, so that the run's id is the server's when the server is up.
        if (!serverAway) {
            run.sendPending();
        }
        live.add(run);
        wake();
        return run;
    }

    /**
     * Continues a run of this server ({@code modalign run --resume}). The run's own spool, when this
     * machine has it, is taken over (its unsent records go first); otherwise a new spool continues a run
     * the server knows. Records then follow as for a new run; a {@code resume} record sets it RUNNING.
     */
    @Override
    public java.util.Optional<TrackedRun> resumeRun(String runId) {
        Path dir = spoolOf(runId);
        RunSpool spool;
        if (dir != null) {
            spool = RunSpool.open(dir);
            boolean locked;
            try {
                locked = spool.tryLock();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot lock the MLflow spool " + dir + ": " + e.getMessage(), e);
            }
            if (!locked) {
                throw new IllegalStateException("MLflow run " + runId + " is being recorded by another process (its spool "
                        + dir + " is locked); stop that one first");
            }
        } else {
            org.mlflow_project.google.gson.JsonObject info;
            try {
                info = org.mlflow_project.google.gson.JsonParser.parseString(api.get("runs/get", Map.of("run_id", runId)))
                        .getAsJsonObject().getAsJsonObject("run").getAsJsonObject("info");
            } catch (RequestRejectedException notFound) {
                return java.util.Optional.empty();
            } catch (ServerUnavailableException e) {
                throw new IllegalStateException("cannot continue MLflow run " + runId + ": it has no spool in " + spoolDir
                        + " and " + api.base() + " is unreachable (" + e.getMessage() + ")", e);
            }
            String localId = LOCAL_ID_PREFIX + LocalDateTime.now().format(ID_TIME) + "-" + HexFormat.of().formatHex(randomBytes());
            spool = RunSpool.create(spoolDir, localId);
            SpoolState state = spool.loadState();
            state.runId = runId;
            state.experimentId = info.get("experiment_id").getAsString();
            state.artifactUri = info.has("artifact_uri") ? info.get("artifact_uri").getAsString() : null;
            spool.saveState(state);
        }
        MlflowRun run = MlflowRun.resume(this, spool);
        if (!serverAway) {
            run.sendPending();
        }
        live.add(run);
        wake();
        return java.util.Optional.of(run);
    }

    /** The newest spool of a run known by its server id or its local id, or null. */
    private Path spoolOf(String runId) {
        try (Stream<Path> list = Files.list(spoolDir)) {
            return list.filter(RunSpool::isSpool).sorted(java.util.Comparator.reverseOrder()).filter(dir -> {
                SpoolState state = RunSpool.readState(dir);
                return runId.equals(state.runId) || runId.equals(state.localId);
            }).findFirst().orElse(null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the MLflow spool " + spoolDir + ": " + e.getMessage(), e);
        }
    }

    URI uri() {
        return api.base();
    }

    SpoolSender sender() {
        return sender;
    }

    void wake() {
        synchronized (wake) {
            wake.notifyAll();
        }
    }

    void serverAway(ServerUnavailableException e) {
        if (!serverAway) {
            LOG.log(Level.WARNING, "MLflow at " + api.base() + " is unreachable (" + e.getMessage()
                    + "); records are kept in " + spoolDir + " and sent when it is back");
        }
        serverAway = true;
    }

    void serverBack() {
        if (serverAway) {
            LOG.log(Level.INFO, "MLflow at " + api.base() + " answers again; sending the spooled records");
        }
        serverAway = false;
    }

    long endWaitMillis() {
        return (long) (params.endWaitS() * 1000);
    }

    private void sendLoop() {
        long backoff = params.flushIntervalMs();
        while (!closed) {
            boolean away = false;
            for (MlflowRun run : live) {
                if (!run.sendPending()) {
                    away = true;
                    break;
                }
                if (run.finished()) {
                    live.remove(run);
                    run.release();
                }
            }
            backoff = away ? Math.min(MAX_BACKOFF_MS, Math.max(backoff * 2, params.flushIntervalMs())) : params.flushIntervalMs();
            synchronized (wake) {
                if (closed) {
                    break;
                }
                try {
                    wake.wait(backoff);
                } catch (InterruptedException e) {
                    break;
                }
            }
        }
    }

    /** The server id of a run of this spool directory known by its local id (a sweep's parent), or null. */
    private String serverRunIdOf(String localId) {
        for (MlflowRun run : live) {
            if (run.localId().equals(localId)) {
                return run.serverRunId();
            }
        }
        Path dir = spoolDir.resolve(localId);
        return RunSpool.isSpool(dir) ? RunSpool.open(dir).loadState().runId : null;
    }

    /**
     * Replays every unfinished spool of this spool directory, oldest first, and marks each done. A spool
     * locked by a live run (in this process or another) is left to its owner. A spool whose run never
     * ended (its process died) is ended as KILLED. Stops at the first spool the server cannot take.
     */
    @Override
    public long sync() {
        long sent = 0;
        List<Path> dirs;
        try (Stream<Path> list = Files.list(spoolDir)) {
            dirs = list.filter(RunSpool::isSpool).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the MLflow spool " + spoolDir + ": " + e.getMessage(), e);
        }
        for (Path dir : dirs) {
            RunSpool spool = RunSpool.open(dir);
            SpoolState state = spool.loadState();
            if (state.done) {
                continue;
            }
            try {
                if (!spool.tryLock()) {
                    continue;
                }
                List<SpoolRecord> records = spool.readAfter(0);
                // Ended unless its last start or resume was not followed by an end (its process died).
                String lastLifecycle = records.stream().map(SpoolRecord::kind)
                        .filter(kind -> kind.equals("start") || kind.equals("resume") || kind.equals("end"))
                        .reduce((first, second) -> second).orElse("start");
                if (!lastLifecycle.equals("end")) {
                    MlflowRun.appendEnd(spool, dev.modalign.api.RunStatus.KILLED,
                            "the process that ran it ended without ending the run; replayed by modalign sync");
                }
                ArrayDeque<SpoolRecord> pending = new ArrayDeque<>(spool.readAfter(state.ackedSeq));
                sent += sender.send(spool, state, pending);
                state.done = true;
                spool.saveState(state);
            } catch (ServerUnavailableException e) {
                throw new IllegalStateException("MLflow at " + api.base() + " is unreachable (" + e.getMessage() + "); sent "
                        + sent + " records, the rest stay in " + spoolDir + "; run 'modalign sync' again", e);
            } catch (RequestRejectedException e) {
                LOG.log(Level.WARNING, "MLflow refused run " + state.localId + " (" + e + "); its spool " + dir
                        + " stays for a later sync");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot lock the MLflow spool " + dir + ": " + e.getMessage(), e);
            } finally {
                spool.close();
            }
        }
        return sent;
    }

    /**
     * A run of this server, for {@code modalign rerun}: its params, tags and latest metrics, its
     * experiment's name, and its resolved configuration (empty when it logged none, as a sweep's parent).
     */
    @Override
    public Optional<RecordedRun> fetchRun(String runId) {
        return reader.fetchRun(runId);
    }

    /**
     * The active (not deleted) runs of an experiment, oldest first, with their last metric values;
     * their resolved configurations are left empty (one more request per run: {@link #fetchRun}).
     */
    @Override
    public List<RecordedRun> searchRuns(String experiment) {
        return reader.searchRuns(experiment);
    }

    /** Every value of a metric of a run, by step; the key as it was logged (R@1, stored as R_1). */
    @Override
    public List<MetricPoint> metricHistory(String runId, String key) {
        return reader.metricHistory(runId, key);
    }

    /** Runs per runs/search request; small in tests of the paging. */
    void searchPageSize(int size) {
        reader.searchPageSize(size);
    }

    /**
     * Downloads one artifact of a run (a checkpoint a later run starts from) into this tracker's cache,
     * {@code <spool dir>/../mlflow-artifacts/<run id>/<path>}, once.
     */
    @Override
    public java.util.Optional<Path> fetchArtifact(String runId, String artifactPath) {
        if (!runId.matches("[A-Za-z0-9._-]+") || artifactPath.contains("..")) {
            return java.util.Optional.empty();
        }
        Path target = spoolDir.resolveSibling("mlflow-artifacts").resolve(runId).resolve(artifactPath);
        if (Files.isRegularFile(target)) {
            return java.util.Optional.of(target);
        }
        try {
            String artifactUri;
            try {
                artifactUri = org.mlflow_project.google.gson.JsonParser.parseString(api.get("runs/get", Map.of("run_id",
                        runId))).getAsJsonObject().getAsJsonObject("run").getAsJsonObject("info").get("artifact_uri")
                        .getAsString();
            } catch (RequestRejectedException notFound) {
                return java.util.Optional.empty();
            }
            String prefix = "mlflow-artifacts:/";
            if (!artifactUri.startsWith(prefix)) {
                throw new IllegalStateException("run " + runId + " keeps its artifacts at " + artifactUri
                        + ", which this tracker cannot read; start the server with --serve-artifacts");
            }
            Files.createDirectories(target.getParent());
            Path partial = target.resolveSibling(target.getFileName() + ".part");
            try {
                api.downloadArtifact(artifactUri.substring(prefix.length()) + "/" + artifactPath, partial);
            } catch (RequestRejectedException missing) {
                Files.deleteIfExists(partial);
                return java.util.Optional.empty();
            }
            Files.move(partial, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return java.util.Optional.of(target);
        } catch (ServerUnavailableException e) {
            throw new IllegalStateException("cannot fetch " + artifactPath + " of run " + runId + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot store " + artifactPath + " of run " + runId + " under " + target
                    + ": " + e.getMessage(), e);
        }
    }

    /** Stops the sender; what it has not sent stays in the spool for {@code modalign sync}. */
    @Override
    public void close() {
        closed = true;
        wake();
        try {
            daemon.join((long) (params.requestTimeoutS() * 1000) + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        daemon.interrupt();
        for (MlflowRun run : live) {
            if (!run.finished()) {
                LOG.log(Level.WARNING, run.unsentCount() + " records of MLflow run " + run.id() + " stay in "
                        + run.spoolDir() + "; 'modalign sync' sends them");
            }
            run.release();
        }
        live.clear();
    }

    private static byte[] randomBytes() {
        byte[] bytes = new byte[3];
        new SecureRandom().nextBytes(bytes);
        return bytes;
    }
}
