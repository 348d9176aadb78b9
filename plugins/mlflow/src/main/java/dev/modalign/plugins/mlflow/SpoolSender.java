package dev.modalign.plugins.mlflow;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.mlflow.api.proto.Service;
import org.mlflow_project.google.gson.JsonObject;
import org.mlflow_project.google.protobuf.InvalidProtocolBufferException;
import org.mlflow_project.google.protobuf.Message;
import org.mlflow_project.google.protobuf.MessageOrBuilder;
import org.mlflow_project.google.protobuf.util.JsonFormat;

/**
 * Sends a run's spooled records to the server in order, each acknowledged record once: the requests
 * are MLflow's protobuf messages ({@code org.mlflow.api.proto.Service}) printed as JSON, over {@link
 * MlflowRestApi}.
 *
 * <p>Params, tags and metrics go in {@code runs/log-batch} requests split within the server's limits
 * (1000 metrics, 100 params, 100 tags, 1000 entries in all, 1 MB). After every request that the
 * server answered, {@link SpoolState#ackedSeq} is saved, so only unacknowledged records are sent
 * again. Params and tags are idempotent; metrics are not, so before a request goes out, its last seq
 * is saved as {@link SpoolState#unsureUpTo}; when such a request got no answer, the metrics are first
 * compared with {@code metrics/get-history} and only those the server lacks are sent again. The same
 * holds for creating the run (found again by its {@code modalign.spool_id} tag).
 *
 * <p>A 4xx other than 429 is not retried: a batch refused that way is halved until the refused records
 * are found, which are reported and kept in {@link SpoolState#rejected}; the rest goes on. A 401, 403
 * or 404 concerns the whole run and is thrown to the caller.
 */
final class SpoolSender {

    static final int MAX_METRICS = 1000;
    static final int MAX_PARAMS = 100;
    static final int MAX_TAGS = 100;
    static final int MAX_ENTRIES = 1000;
    /** The server refuses bodies over 1 MB; the estimate below is within 10% of the JSON's length. */
    static final int MAX_BYTES = 900_000;
    /** MLflow stores tag values up to 8000 characters; an error message longer than that is cut. */
    static final int MAX_TAG_VALUE = 8000;

    private static final System.Logger LOG = System.getLogger(SpoolSender.class.getName());
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().preservingProtoFieldNames()
            .omittingInsignificantWhitespace();
    private static final JsonFormat.Parser PARSER = JsonFormat.parser().ignoringUnknownFields();

    private final MlflowRestApi api;
    private final Function<String, String> serverRunIdOfLocal;

    /**
     * @param serverRunIdOfLocal maps the local id of another run of this spool directory (a sweep's
     *     parent) to its server id, or null while it has none
     */
    SpoolSender(MlflowRestApi api, Function<String, String> serverRunIdOfLocal) {
        this.api = api;
        this.serverRunIdOfLocal = serverRunIdOfLocal;
    }

    /**
     * Sends {@code pending} (records after {@code state.ackedSeq}, in order), removing each record once
     * the server has it. Returns how many records were removed.
     *
     * @throws ServerUnavailableException when the server is away or slow: send the rest later
     * @throws RequestRejectedException when the server refuses the run itself (401, 403, 404)
     */
    int send(RunSpool spool, SpoolState state, Deque<SpoolRecord> pending) throws ServerUnavailableException {
        int sent = 0;
        while (!pending.isEmpty()) {
            SpoolRecord first = pending.peekFirst();
            if (first.seq() <= state.ackedSeq) {
                pending.removeFirst();
                continue;
            }
            switch (first.kind()) {
                case "start" -> {
                    createRun(first, spool, state);
                    acknowledge(spool, state, first.seq());
                }
                case "artifact" -> {
                    upload(first, spool, state);
                    acknowledge(spool, state, first.seq());
                    deleteCopy(spool, first);
                }
                case "end" -> end(first, spool, state);
                case "resume" -> resume(first, spool, state);
                case "params", "tags", "metric" -> logEntries(takeBatchable(pending), spool, state);
                default -> {
                    reject(spool, state, first.seq(), first.kind(), "unknown record kind");
                    acknowledge(spool, state, first.seq());
                }
            }
            while (!pending.isEmpty() && pending.peekFirst().seq() <= state.ackedSeq) {
                pending.removeFirst();
                sent++;
            }
        }
        return sent;
    }

    private void createRun(SpoolRecord start, RunSpool spool, SpoolState state) throws ServerUnavailableException {
        JsonObject data = start.data();
        if (state.experimentId == null) {
            state.experimentId = experimentId(data.get("experiment").getAsString());
            spool.saveState(state);
        }
        if (state.runId == null && state.unsureUpTo >= start.seq()) {
            findRunBySpoolId(state);
        }
        if (state.runId != null) {
            return;
        }
        Service.CreateRun.Builder request = Service.CreateRun.newBuilder().setExperimentId(state.experimentId)
                .setRunName(data.get("run_name").getAsString()).setStartTime(start.time())
                .addTags(tag("modalign.spool_id", state.localId));
        if (data.has("parent_run_id")) {
            String parent = data.get("parent_run_id").getAsString();
            String serverParent = parent.startsWith(MlflowTracker.LOCAL_ID_PREFIX) ? serverRunIdOfLocal.apply(parent) : parent;
            if (serverParent == null) {
                throw new ServerUnavailableException("the parent run " + parent + " is not on the server yet", false, null);
            }
            request.addTags(tag("mlflow.parentRunId", serverParent));
        }
        Service.CreateRun.Response response = parse(postUnsure(spool, state, start.seq(), "runs/create", request),
                Service.CreateRun.Response.newBuilder());
        state.runId = response.getRun().getInfo().getRunId();
        state.artifactUri = response.getRun().getInfo().getArtifactUri();
    }

    private String experimentId(String name) throws ServerUnavailableException {
        for (int attempt = 0; ; attempt++) {
            try {
                Service.GetExperimentByName.Response found = parse(api.get("experiments/get-by-name",
                        Map.of("experiment_name", name)), Service.GetExperimentByName.Response.newBuilder());
                return found.getExperiment().getExperimentId();
            } catch (RequestRejectedException e) {
                if (!"RESOURCE_DOES_NOT_EXIST".equals(e.errorCode()) || attempt > 0) {
                    throw e;
                }
            }
            try {
                Service.CreateExperiment.Response created = parse(api.post("experiments/create",
                        print(Service.CreateExperiment.newBuilder().setName(name))),
                        Service.CreateExperiment.Response.newBuilder());
                return created.getExperimentId();
            } catch (RequestRejectedException e) {
                // Another process created it in between: read it again.
                if (!"RESOURCE_ALREADY_EXISTS".equals(e.errorCode())) {
                    throw e;
                }
            }
        }
    }

    private void findRunBySpoolId(SpoolState state) throws ServerUnavailableException {
        Service.SearchRuns request = Service.SearchRuns.newBuilder().addExperimentIds(state.experimentId)
                .setFilter("tags.`modalign.spool_id` = '" + state.localId + "'").setRunViewType(Service.ViewType.ALL)
                .setMaxResults(1).build();
        Service.SearchRuns.Response found = parse(api.post("runs/search", print(request)),
                Service.SearchRuns.Response.newBuilder());
        if (found.getRunsCount() > 0) {
            state.runId = found.getRuns(0).getInfo().getRunId();
            state.artifactUri = found.getRuns(0).getInfo().getArtifactUri();
        }
    }

    /** One param, tag or metric of a record; a params or tags record has one entry per key. */
    private record Entry(SpoolRecord record, boolean lastOfRecord, String kind, String key, String value,
            Service.Metric metric) {
        int bytes() {
            return 64 + key.length() * 2 + (value == null ? 24 : value.length() * 2);
        }
    }

    /** The consecutive params, tags and metric records at the head of {@code pending}, up to a few batches. */
    private static List<Entry> takeBatchable(Deque<SpoolRecord> pending) {
        List<Entry> entries = new ArrayList<>();
        for (SpoolRecord record : pending) {
            if (entries.size() >= 4 * MAX_ENTRIES || !Set.of("params", "tags", "metric").contains(record.kind())) {
                break;
            }
            JsonObject data = record.data();
            if (record.kind().equals("metric")) {
                Service.Metric metric = Service.Metric.newBuilder().setKey(data.get("key").getAsString())
                        .setValue(data.get("value").getAsDouble()).setStep(data.get("step").getAsLong())
                        .setTimestamp(data.get("timestamp").getAsLong()).build();
                entries.add(new Entry(record, true, "metric", metric.getKey(), null, metric));
            } else {
                List<String> keys = new ArrayList<>(data.keySet());
                for (int i = 0; i < keys.size(); i++) {
                    entries.add(new Entry(record, i == keys.size() - 1, record.kind(), keys.get(i),
                            data.get(keys.get(i)).getAsString(), null));
                }
                if (keys.isEmpty()) {
                    entries.add(new Entry(record, true, "empty", "", "", null));
                }
            }
        }
        return entries;
    }

    private void logEntries(List<Entry> entries, RunSpool spool, SpoolState state) throws ServerUnavailableException {
        int from = 0;
        while (from < entries.size()) {
            int to = chunkEnd(entries, from);
            List<Entry> chunk = entries.subList(from, to);
            logChunk(chunk, spool, state);
            Entry last = chunk.get(chunk.size() - 1);
            // A params or tags record split over two requests is acknowledged with its last part;
            // sending its first part again is harmless (both are idempotent).
            acknowledge(spool, state, last.lastOfRecord() ? last.record().seq() : last.record().seq() - 1);
            from = to;
        }
    }

    /** Where the request that starts at {@code from} must end to stay within MLflow's log-batch limits. */
    private static int chunkEnd(List<Entry> entries, int from) {
        int metrics = 0;
        int params = 0;
        int tags = 0;
        int bytes = 0;
        Set<String> paramKeys = new HashSet<>();
        Set<String> tagKeys = new HashSet<>();
        int to = from;
        for (; to < entries.size(); to++) {
            Entry entry = entries.get(to);
            boolean fits = switch (entry.kind()) {
                case "metric" -> metrics < MAX_METRICS;
                // A repeated key in one request is refused (params) or ambiguous (tags): start a new one.
                case "params" -> params < MAX_PARAMS && !paramKeys.contains(entry.key());
                case "tags" -> tags < MAX_TAGS && !tagKeys.contains(entry.key());
                default -> true;
            };
            if (!fits || metrics + params + tags >= MAX_ENTRIES || bytes + entry.bytes() > MAX_BYTES) {
                break;
            }
            switch (entry.kind()) {
                case "metric" -> metrics++;
                case "params" -> {
                    params++;
                    paramKeys.add(entry.key());
                }
                case "tags" -> {
                    tags++;
                    tagKeys.add(entry.key());
                }
                default -> { }
            }
            bytes += entry.bytes();
        }
        return Math.max(to, from + 1);
    }

    private void logChunk(List<Entry> chunk, RunSpool spool, SpoolState state) throws ServerUnavailableException {
        List<Entry> toSend = chunk;
        if (state.unsureUpTo >= chunk.get(0).record().seq()) {
            toSend = withoutMetricsOnServer(chunk, state);
        }
        Service.LogBatch.Builder request = Service.LogBatch.newBuilder().setRunId(state.runId);
        for (Entry entry : toSend) {
            switch (entry.kind()) {
                case "metric" -> request.addMetrics(entry.metric());
                case "params" -> request.addParams(Service.Param.newBuilder().setKey(entry.key()).setValue(entry.value()));
                case "tags" -> request.addTags(tag(entry.key(), entry.value()));
                default -> { }
            }
        }
        if (request.getMetricsCount() + request.getParamsCount() + request.getTagsCount() == 0) {
            return;
        }
        try {
            postUnsure(spool, state, chunk.get(chunk.size() - 1).record().seq(), "runs/log-batch", request);
        } catch (RequestRejectedException e) {
            if (e.blocksRun()) {
                throw e;
            }
            if (toSend.size() == 1) {
                Entry refused = toSend.get(0);
                reject(spool, state, refused.record().seq(), refused.kind(), refused.key() + ": " + e);
                return;
            }
            // Find the refused entries by halving, so the others still reach the server.
            logChunk(toSend.subList(0, toSend.size() / 2), spool, state);
            logChunk(toSend.subList(toSend.size() / 2, toSend.size()), spool, state);
        }
    }

    /** The chunk less the metrics the server already holds (same key, step, timestamp and value). */
    private List<Entry> withoutMetricsOnServer(List<Entry> chunk, SpoolState state) throws ServerUnavailableException {
        Map<String, Set<String>> onServer = new LinkedHashMap<>();
        for (Entry entry : chunk) {
            if (entry.metric() != null && !onServer.containsKey(entry.key())) {
                onServer.put(entry.key(), history(state.runId, entry.key()));
            }
        }
        List<Entry> missing = new ArrayList<>();
        for (Entry entry : chunk) {
            if (entry.metric() == null || !onServer.get(entry.key()).contains(identity(entry.metric()))) {
                missing.add(entry);
            }
        }
        return missing;
    }

    private Set<String> history(String runId, String key) throws ServerUnavailableException {
        Set<String> found = new HashSet<>();
        String pageToken = "";
        do {
            Map<String, String> query = new LinkedHashMap<>();
            query.put("run_id", runId);
            query.put("metric_key", key);
            query.put("max_results", "25000");
            if (!pageToken.isEmpty()) {
                query.put("page_token", pageToken);
            }
            Service.GetMetricHistory.Response page = parse(api.get("metrics/get-history", query),
                    Service.GetMetricHistory.Response.newBuilder());
            page.getMetricsList().forEach(metric -> found.add(identity(metric)));
            pageToken = page.getNextPageToken();
        } while (!pageToken.isEmpty());
        return found;
    }

    private static String identity(Service.Metric metric) {
        // doubleToLongBits makes NaN equal to NaN, as the server's primary key does.
        return metric.getStep() + "|" + metric.getTimestamp() + "|" + Double.doubleToLongBits(metric.getValue());
    }

    private void upload(SpoolRecord artifact, RunSpool spool, SpoolState state) throws ServerUnavailableException {
        String artifactPath = artifact.data().get("path").getAsString();
        Path copy = spool.artifactCopy(artifact.data().get("copy").getAsString());
        if (!Files.isRegularFile(copy)) {
            reject(spool, state, artifact.seq(), "artifact", artifactPath + ": the spooled copy " + copy + " is missing");
            return;
        }
        String uri = state.artifactUri == null ? "" : state.artifactUri;
        StringBuilder encoded = new StringBuilder();
        for (String part : artifactPath.split("/")) {
            encoded.append('/').append(MlflowRestApi.encode(part));
        }
        try {
            if (uri.startsWith("mlflow-artifacts:")) {
                // mlflow-artifacts:/<exp>/<run>/artifacts (or with //host:port) maps onto the server's
                // proxy, /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>.
                String root = uri.substring("mlflow-artifacts:".length());
                if (root.startsWith("//")) {
                    int slash = root.indexOf('/', 2);
                    root = slash < 0 ? "" : root.substring(slash);
                }
                api.putArtifact(root.replaceAll("^/+", "").replaceAll("/+$", "") + encoded, copy);
            } else if (uri.contains("/api/2.0/mlflow-artifacts/artifacts/")) {
                String root = uri.substring(uri.indexOf("/api/2.0/mlflow-artifacts/artifacts/")
                        + "/api/2.0/mlflow-artifacts/artifacts/".length());
                api.putArtifact(root.replaceAll("/+$", "") + encoded, copy);
            } else if (uri.startsWith("file:") || uri.startsWith("/")) {
                // A server without --serve-artifacts on this machine: its store is a directory here.
                Path root = uri.startsWith("file:") ? Path.of(URI.create(uri)) : Path.of(uri);
                Path target = root.resolve(artifactPath).normalize();
                Files.createDirectories(target.getParent());
                Files.copy(copy, target, StandardCopyOption.REPLACE_EXISTING);
            } else {
                reject(spool, state, artifact.seq(), "artifact", artifactPath + ": the run's artifact store " + uri
                        + " is reachable only through MLflow's Python client; start the server with --serve-artifacts");
            }
        } catch (RequestRejectedException e) {
            if (e.blocksRun()) {
                throw e;
            }
            reject(spool, state, artifact.seq(), "artifact", artifactPath + ": " + e);
        } catch (IOException e) {
            reject(spool, state, artifact.seq(), "artifact", artifactPath + ": cannot copy into " + uri + ": " + e.getMessage());
        }
    }

    private static void deleteCopy(RunSpool spool, SpoolRecord artifact) {
        try {
            Files.deleteIfExists(spool.artifactCopy(artifact.data().get("copy").getAsString()));
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "cannot delete an uploaded artifact's copy: " + e.getMessage());
        }
    }

    private void end(SpoolRecord end, RunSpool spool, SpoolState state) throws ServerUnavailableException {
        String status = end.data().get("status").getAsString();
        if (end.data().has("message")) {
            // MLflow's run status carries no message: the reason goes into a tag.
            String message = end.data().get("message").getAsString();
            message = message.length() > MAX_TAG_VALUE ? message.substring(0, MAX_TAG_VALUE - 3) + "..." : message;
            try {
                api.post("runs/log-batch", print(Service.LogBatch.newBuilder().setRunId(state.runId)
                        .addTags(tag("modalign.error", message))));
            } catch (RequestRejectedException e) {
                if (e.blocksRun()) {
                    throw e;
                }
                reject(spool, state, end.seq(), "end", "modalign.error tag: " + e);
            }
        }
        api.post("runs/update", print(Service.UpdateRun.newBuilder().setRunId(state.runId)
                .setStatus(Service.RunStatus.valueOf(status)).setEndTime(end.time())));
        state.done = true;
        acknowledge(spool, state, end.seq());
    }

    /** A run continued after it ended or its process died: RUNNING again until its next end. */
    private void resume(SpoolRecord resume, RunSpool spool, SpoolState state) throws ServerUnavailableException {
        api.post("runs/update", print(Service.UpdateRun.newBuilder().setRunId(state.runId)
                .setStatus(Service.RunStatus.RUNNING)));
        state.done = false;
        acknowledge(spool, state, resume.seq());
    }

    /** Posts a request that is not idempotent, marking its records unsure until the answer is in. */
    private String postUnsure(RunSpool spool, SpoolState state, long lastSeq, String endpoint, MessageOrBuilder request)
            throws ServerUnavailableException {
        long before = state.unsureUpTo;
        state.unsureUpTo = Math.max(before, lastSeq);
        spool.saveState(state);
        try {
            String answer = api.post(endpoint, print(request));
            return answer;
        } catch (ServerUnavailableException e) {
            if (!e.maybeApplied()) {
                state.unsureUpTo = before;
                spool.saveState(state);
            }
            throw e;
        } catch (RequestRejectedException e) {
            // Refused requests are validated before anything is written: nothing of it is on the server.
            state.unsureUpTo = before;
            spool.saveState(state);
            throw e;
        }
    }

    private static void acknowledge(RunSpool spool, SpoolState state, long seq) {
        if (seq > state.ackedSeq) {
            state.ackedSeq = seq;
        }
        if (state.unsureUpTo <= state.ackedSeq) {
            state.unsureUpTo = 0;
        }
        spool.saveState(state);
    }

    private static void reject(RunSpool spool, SpoolState state, long seq, String kind, String reason) {
        LOG.log(Level.WARNING, "MLflow refused record " + seq + " (" + kind + ") of run "
                + (state.runId != null ? state.runId : state.localId) + ", not sending it again: " + reason);
        state.rejected.add(new SpoolState.Rejection(seq, kind, reason));
        spool.saveState(state);
    }

    private static Service.RunTag tag(String key, String value) {
        return Service.RunTag.newBuilder().setKey(key).setValue(value).build();
    }

    private static String print(MessageOrBuilder message) {
        try {
            return PRINTER.print(message);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("cannot print " + message.getClass().getSimpleName() + " as JSON", e);
        }
    }

    @SuppressWarnings("unchecked")
    private static <M extends Message> M parse(String json, Message.Builder builder) {
        try {
            PARSER.merge(json, builder);
            return (M) builder.build();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("the server's answer is not what MLflow 2.x sends: " + e.getMessage(), e);
        }
    }
}
