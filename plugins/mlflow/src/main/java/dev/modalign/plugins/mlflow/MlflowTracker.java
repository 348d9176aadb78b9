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
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.mlflow_project.google.gson.JsonArray;
import org.mlflow_project.google.gson.JsonElement;
import org.mlflow_project.google.gson.JsonObject;
import org.mlflow_project.google.gson.JsonParser;

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

    /** Values per metrics/get-history request (the server's most is 25,000). */
    private static final int HISTORY_PAGE_SIZE = 25_000;

    private final Params params;
    private final MlflowRestApi api;
    private int searchPageSize = 1000;
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
                if (records.stream().noneMatch(record -> record.kind().equals("end"))) {
                    MlflowRun.appendEnd(spool, RunStatus.KILLED,
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
     * A run of this server, for {@code modalign rerun}: its params, tags and latest metrics from
     * runs/get, its experiment's name, and its resolved configuration from the artifact proxy (empty
     * when the run logged none, as a sweep's parent).
     */
    @Override
    public Optional<RecordedRun> fetchRun(String runId) {
        try {
            JsonObject run;
            try {
                run = JsonParser.parseString(api.get("runs/get", Map.of("run_id", runId))).getAsJsonObject()
                        .getAsJsonObject("run");
            } catch (RequestRejectedException e) {
                if (notFound(e)) {
                    return Optional.empty();
                }
                throw e;
            }
            JsonObject info = run.getAsJsonObject("info");
            String experiment = JsonParser.parseString(api.get("experiments/get",
                    Map.of("experiment_id", info.get("experiment_id").getAsString()))).getAsJsonObject()
                    .getAsJsonObject("experiment").get("name").getAsString();
            String artifactUri = info.get("artifact_uri").getAsString();
            String prefix = "mlflow-artifacts:/";
            if (!artifactUri.startsWith(prefix)) {
                throw new IllegalStateException("run " + runId + " keeps its artifacts at " + artifactUri
                        + ", which this tracker cannot read; start the server with --serve-artifacts");
            }
            String yaml;
            try {
                yaml = api.getArtifact(artifactUri.substring(prefix.length()) + "/config/resolved.yaml");
            } catch (RequestRejectedException e) {
                if (!notFound(e)) {
                    throw e;
                }
                yaml = "";
            }
            return Optional.of(recordedRun(run, experiment, yaml));
        } catch (ServerUnavailableException e) {
            throw unreachable("cannot read run " + runId, e);
        }
    }

    /**
     * The active (not deleted) runs of an experiment through runs/search, page by page, oldest first;
     * their resolved configurations are left empty (one more request per run: {@link #fetchRun}).
     */
    @Override
    public List<RecordedRun> searchRuns(String experiment) {
        try {
            String experimentId;
            try {
                experimentId = JsonParser.parseString(api.get("experiments/get-by-name", Map.of("experiment_name", experiment)))
                        .getAsJsonObject().getAsJsonObject("experiment").get("experiment_id").getAsString();
            } catch (RequestRejectedException e) {
                if (notFound(e)) {
                    return List.of();
                }
                throw e;
            }
            List<RecordedRun> runs = new ArrayList<>();
            String pageToken = "";
            do {
                JsonObject request = new JsonObject();
                JsonArray ids = new JsonArray();
                ids.add(experimentId);
                request.add("experiment_ids", ids);
                request.addProperty("run_view_type", "ACTIVE_ONLY");
                request.addProperty("max_results", searchPageSize);
                JsonArray order = new JsonArray();
                order.add("attributes.start_time ASC");
                request.add("order_by", order);
                if (!pageToken.isEmpty()) {
                    request.addProperty("page_token", pageToken);
                }
                JsonObject page = JsonParser.parseString(api.post("runs/search", request.toString())).getAsJsonObject();
                if (page.has("runs")) {
                    page.getAsJsonArray("runs").forEach(run -> runs.add(recordedRun(run.getAsJsonObject(), experiment, "")));
                }
                pageToken = page.has("next_page_token") ? page.get("next_page_token").getAsString() : "";
            } while (!pageToken.isEmpty());
            runs.sort(Comparator.comparingLong((RecordedRun run) -> run.info().startTime()).thenComparing(RecordedRun::runId));
            return runs;
        } catch (ServerUnavailableException e) {
            throw unreachable("cannot search the runs of experiment '" + experiment + "'", e);
        }
    }

    /**
     * Every value of a metric through metrics/get-history, page by page, by step and time. The key is
     * renamed as {@link TrackedRun#logMetric} renamed it on the way in (R@1 is R_at_1).
     */
    @Override
    public List<MetricPoint> metricHistory(String runId, String key) {
        List<MetricPoint> points = new ArrayList<>();
        String pageToken = "";
        try {
            do {
                Map<String, String> query = new LinkedHashMap<>();
                query.put("run_id", runId);
                query.put("metric_key", MlflowRun.serverName(key));
                query.put("max_results", Integer.toString(HISTORY_PAGE_SIZE));
                if (!pageToken.isEmpty()) {
                    query.put("page_token", pageToken);
                }
                JsonObject page;
                try {
                    page = JsonParser.parseString(api.get("metrics/get-history", query)).getAsJsonObject();
                } catch (RequestRejectedException e) {
                    if (notFound(e)) {
                        return List.of();
                    }
                    throw e;
                }
                if (page.has("metrics")) {
                    for (JsonElement element : page.getAsJsonArray("metrics")) {
                        JsonObject metric = element.getAsJsonObject();
                        points.add(new MetricPoint(metric.has("step") ? metric.get("step").getAsLong() : 0,
                                number(metric.get("value")), metric.has("timestamp") ? metric.get("timestamp").getAsLong() : 0));
                    }
                }
                pageToken = page.has("next_page_token") ? page.get("next_page_token").getAsString() : "";
            } while (!pageToken.isEmpty());
        } catch (ServerUnavailableException e) {
            throw unreachable("cannot read the history of " + key + " of run " + runId, e);
        }
        points.sort(Comparator.comparingLong(MetricPoint::step).thenComparingLong(MetricPoint::timestamp));
        return points;
    }

    /** Runs per runs/search request; small in tests of the paging. */
    void searchPageSize(int size) {
        this.searchPageSize = size;
    }

    /** A refusal that means "no such run, experiment or file" (not a refusal of who asks). */
    private static boolean notFound(RequestRejectedException e) {
        return e.status() == 404 || "RESOURCE_DOES_NOT_EXIST".equals(e.errorCode())
                || "INVALID_PARAMETER_VALUE".equals(e.errorCode()) && e.status() == 400;
    }

    private IllegalStateException unreachable(String what, ServerUnavailableException e) {
        return new IllegalStateException(what + ": MLflow at " + api.base() + " is unreachable (" + e.getMessage()
                + "); start it with scripts/mlflow-server start, or name the right server with --tracking-uri", e);
    }

    /** A run object of runs/get or runs/search as the API's RecordedRun. */
    private static RecordedRun recordedRun(JsonObject run, String experiment, String yaml) {
        JsonObject info = run.getAsJsonObject("info");
        JsonObject data = run.has("data") ? run.getAsJsonObject("data") : new JsonObject();
        Map<String, String> params = new LinkedHashMap<>();
        Map<String, String> tags = new LinkedHashMap<>();
        Map<String, Double> metrics = new LinkedHashMap<>();
        if (data.has("params")) {
            data.getAsJsonArray("params").forEach(e -> params.put(e.getAsJsonObject().get("key").getAsString(),
                    e.getAsJsonObject().get("value").getAsString()));
        }
        if (data.has("tags")) {
            data.getAsJsonArray("tags").forEach(e -> tags.put(e.getAsJsonObject().get("key").getAsString(),
                    e.getAsJsonObject().get("value").getAsString()));
        }
        if (data.has("metrics")) {
            data.getAsJsonArray("metrics").forEach(e -> metrics.put(e.getAsJsonObject().get("key").getAsString(),
                    number(e.getAsJsonObject().get("value"))));
        }
        String runName = info.has("run_name") ? info.get("run_name").getAsString() : tags.getOrDefault("mlflow.runName", "");
        // MLflow's SCHEDULED is a run not started yet: for a reader, one that has not ended.
        RunStatus status = switch (info.has("status") ? info.get("status").getAsString() : "RUNNING") {
            case "FINISHED" -> RunStatus.FINISHED;
            case "FAILED" -> RunStatus.FAILED;
            case "KILLED" -> RunStatus.KILLED;
            default -> RunStatus.RUNNING;
        };
        RecordedRun.Info details = new RecordedRun.Info(experiment, runName, status, tags.get("mlflow.parentRunId"),
                info.has("start_time") ? info.get("start_time").getAsLong() : 0,
                info.has("end_time") ? info.get("end_time").getAsLong() : 0);
        return new RecordedRun(info.get("run_id").getAsString(), yaml, params, tags, metrics, details);
    }

    /** A metric value; MLflow writes NaN and the infinities as strings in JSON. */
    private static double number(JsonElement value) {
        if (value.isJsonPrimitive() && value.getAsJsonPrimitive().isString()) {
            return switch (value.getAsString()) {
                case "NaN" -> Double.NaN;
                case "Infinity" -> Double.POSITIVE_INFINITY;
                case "-Infinity" -> Double.NEGATIVE_INFINITY;
                default -> Double.parseDouble(value.getAsString());
            };
        }
        return value.getAsDouble();
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
