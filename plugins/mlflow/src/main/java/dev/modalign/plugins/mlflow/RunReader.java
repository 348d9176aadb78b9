package dev.modalign.plugins.mlflow;

import dev.modalign.api.MetricPoint;
import dev.modalign.api.RecordedRun;
import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.mlflow_project.google.gson.JsonArray;
import org.mlflow_project.google.gson.JsonElement;
import org.mlflow_project.google.gson.JsonObject;
import org.mlflow_project.google.gson.JsonParser;

/**
 * Reads runs back from the server for {@link MlflowTracker#fetchRun}, {@link MlflowTracker#searchRuns}
 * and {@link MlflowTracker#metricHistory}: runs/get, runs/search and metrics/get-history page by page,
 * the run's parent from the tag {@code mlflow.parentRunId}, its configuration from the artifact proxy.
 *
 * <p>A class of its own so that the tracker's class does not refer to the shaded Gson: the plugin's
 * registration links the tracker's constructor, which must not need the MLflow client jar.
 */
final class RunReader {

    /** Values per metrics/get-history request (the server's most is 25,000). */
    private static final int HISTORY_PAGE_SIZE = 25_000;

    private final MlflowRestApi api;
    private int searchPageSize = 1000;

    RunReader(MlflowRestApi api) {
        this.api = api;
    }

    /**
     * A run of this server, for {@code modalign rerun}: its params, tags and latest metrics from
     * runs/get, its experiment's name, and its resolved configuration from the artifact proxy (empty
     * when the run logged none, as a sweep's parent).
     */
    Optional<RecordedRun> fetchRun(String runId) {
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
            // The artifact proxy answers a missing file with a 500, as it answers a broken store: ask first.
            JsonObject listed = JsonParser.parseString(api.get("artifacts/list", Map.of("run_id", runId, "path", "config")))
                    .getAsJsonObject();
            boolean recorded = false;
            if (listed.has("files")) {
                for (JsonElement file : listed.getAsJsonArray("files")) {
                    recorded |= file.getAsJsonObject().get("path").getAsString().equals("config/resolved.yaml");
                }
            }
            String yaml = recorded ? api.getArtifact(artifactUri.substring(prefix.length()) + "/config/resolved.yaml") : "";
            return Optional.of(recordedRun(run, experiment, yaml));
        } catch (ServerUnavailableException e) {
            throw unreachable("cannot read run " + runId, e);
        }
    }

    /**
     * The active (not deleted) runs of an experiment through runs/search, page by page, oldest first;
     * their resolved configurations are left empty (one more request per run: {@link #fetchRun}).
     */
    List<RecordedRun> searchRuns(String experiment) {
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
     * renamed as {@link TrackedRun#logMetric} renamed it on the way in (an @ becomes _).
     */
    List<MetricPoint> metricHistory(String runId, String key) {
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
}
