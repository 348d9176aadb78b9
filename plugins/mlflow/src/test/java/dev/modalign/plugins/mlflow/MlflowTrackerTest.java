package dev.modalign.plugins.mlflow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.testkit.PluginContract;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mlflow_project.google.gson.JsonArray;
import org.mlflow_project.google.gson.JsonElement;
import org.mlflow_project.google.gson.JsonObject;

/** The mlflow tracker against a real MLflow 2.17.2 server that the test starts and stops. */
class MlflowTrackerTest extends PluginContract {

    @TempDir
    static Path serverDir;

    static MlflowTestServer server;

    @BeforeAll
    static void startServer() throws IOException {
        server = new MlflowTestServer(serverDir);
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return MlflowPlugin.MLFLOW;
    }

    private static MlflowTracker tracker(Path spool, double endWaitS, Map<String, String> environment, String uri) {
        return new MlflowTracker(new MlflowTracker.Params(uri, 2, 50, spool.toString(), endWaitS),
                TestContext.builder().build(), environment);
    }

    private static MlflowTracker tracker(Path spool) {
        return tracker(spool, 20, Map.of(), server.uri());
    }

    private static Map<Long, Integer> stepCounts(String runId, String key) throws Exception {
        JsonObject history = server.get("/api/2.0/mlflow/metrics/get-history?run_id=" + runId + "&metric_key="
                + MlflowRestApi.encode(key) + "&max_results=25000");
        Map<Long, Integer> counts = new LinkedHashMap<>();
        if (history.has("metrics")) {
            for (JsonElement metric : history.getAsJsonArray("metrics")) {
                counts.merge(metric.getAsJsonObject().get("step").getAsLong(), 1, Integer::sum);
            }
        }
        return counts;
    }

    private static Map<String, String> pairs(JsonObject data, String field) {
        Map<String, String> found = new LinkedHashMap<>();
        if (data.has(field)) {
            for (JsonElement pair : data.getAsJsonArray(field)) {
                found.put(pair.getAsJsonObject().get("key").getAsString(), pair.getAsJsonObject().get("value").getAsString());
            }
        }
        return found;
    }

    private static JsonObject run(String runId) throws Exception {
        return server.get("/api/2.0/mlflow/runs/get?run_id=" + runId).getAsJsonObject("run");
    }

    @Test
    void paramsMetricStepsTagsAndArtifactReadBack(@TempDir Path spool, @TempDir Path files) throws Exception {
        Path artifact = Files.writeString(files.resolve("resolved.yaml"), "name: quickstart\nseed: 7\n");
        String runId;
        try (MlflowTracker tracker = tracker(spool)) {
            var run = tracker.startRun(new RunSpec("readback", "first", null));
            assertFalse(run.id().startsWith(MlflowTracker.LOCAL_ID_PREFIX), "the server is up: the id is the server's");
            assertTrue(run.location().startsWith(server.uri() + "/#/experiments/"), run.location());
            run.logParams(Map.of("train.lr", "0.001", "seed", "7"));
            run.setTags(Map.of("modalign.plugin.clip", "0.1.0"));
            for (long step = 0; step < 25; step++) {
                run.logMetric("train/loss", 1.0 / (step + 1), step);
            }
            run.logArtifact(artifact, "config/resolved.yaml");
            run.end(RunStatus.FINISHED, null);
            runId = run.id();
        }
        JsonObject found = run(runId);
        assertEquals("FINISHED", found.getAsJsonObject("info").get("status").getAsString());
        assertEquals("first", found.getAsJsonObject("info").get("run_name").getAsString());
        assertEquals(Map.of("train.lr", "0.001", "seed", "7"), pairs(found.getAsJsonObject("data"), "params"));
        assertEquals("0.1.0", pairs(found.getAsJsonObject("data"), "tags").get("modalign.plugin.clip"));
        Map<Long, Integer> steps = stepCounts(runId, "train/loss");
        assertEquals(25, steps.size());
        assertTrue(steps.values().stream().allMatch(count -> count == 1), "each step once: " + steps);
        JsonObject history = server.get("/api/2.0/mlflow/metrics/get-history?run_id=" + runId + "&metric_key=train%2Floss");
        for (JsonElement metric : history.getAsJsonArray("metrics")) {
            JsonObject m = metric.getAsJsonObject();
            assertEquals(1.0 / (m.get("step").getAsLong() + 1), m.get("value").getAsDouble(), 1e-12);
        }
        assertEquals("name: quickstart\nseed: 7\n",
                server.text("/get-artifact?run_id=" + runId + "&path=config/resolved.yaml"));
    }

    @Test
    void serverKilledMidRunLosesNothingAndDuplicatesNothing(@TempDir Path spool) throws Exception {
        int before = 20;
        int during = 2000;
        String runId;
        long spooled;
        double downNanosPerCall;
        MlflowTestServer own = new MlflowTestServer(Files.createTempDirectory(serverDir, "restart"));
        try {
            try (MlflowTracker tracker = tracker(spool, 1, Map.of(), own.uri())) {
                MlflowRun run = (MlflowRun) tracker.startRun(new RunSpec("restart", "killed", null));
                runId = run.id();
                for (long step = 0; step < before; step++) {
                    run.logMetric("train/loss", step, step);
                }
                long deadline = System.currentTimeMillis() + 10_000;
                while (run.state().ackedSeq < before + 1 && System.currentTimeMillis() < deadline) {
                    Thread.sleep(20);
                }
                assertEquals(before + 1, run.state().ackedSeq, "the first metrics reach the server before it dies");
                own.kill();
                long start = System.nanoTime();
                for (long step = before; step < before + during; step++) {
                    run.logMetric("train/loss", step, step);
                }
                downNanosPerCall = (System.nanoTime() - start) / (double) during;
                run.end(RunStatus.FINISHED, null);
                spooled = run.unsentCount();
            }
            assertTrue(spooled >= during, "with the server down the records stay in the spool, found " + spooled);
            own.start();
            long replayed;
            try (MlflowTracker syncing = tracker(spool, 1, Map.of(), own.uri())) {
                replayed = syncing.sync();
                assertEquals(0, syncing.sync(), "a second sync has nothing left to send");
            }
            System.out.printf("server killed mid-run: %d records spooled, %d replayed by sync; logMetric with the"
                    + " server down: %.1f us/call%n", spooled, replayed, downNanosPerCall / 1000);
            assertEquals(spooled, replayed);
            JsonObject history = own.get("/api/2.0/mlflow/metrics/get-history?run_id=" + runId
                    + "&metric_key=train%2Floss&max_results=25000");
            Map<Long, Integer> counts = new LinkedHashMap<>();
            for (JsonElement metric : history.getAsJsonArray("metrics")) {
                counts.merge(metric.getAsJsonObject().get("step").getAsLong(), 1, Integer::sum);
            }
            assertEquals(before + during, counts.size(), "every step is on the server");
            assertTrue(counts.values().stream().allMatch(count -> count == 1), "and each once");
            assertEquals("FINISHED", own.get("/api/2.0/mlflow/runs/get?run_id=" + runId).getAsJsonObject("run")
                    .getAsJsonObject("info").get("status").getAsString());
        } finally {
            own.close();
        }
    }

    @Test
    void runsOfOneExperimentShareMetricKeysAndAFailureCarriesItsMessage(@TempDir Path spool) throws Exception {
        List<String> ids = new ArrayList<>();
        try (MlflowTracker tracker = tracker(spool)) {
            for (String name : List.of("clip", "siglip")) {
                var run = tracker.startRun(new RunSpec("compare", name, null));
                for (long step = 0; step < 3; step++) {
                    run.logMetric("train/loss", 2.0 - step, step);
                    run.logMetric("train/lr", 1e-3, step);
                }
                run.logMetric("eval/retrieval/image_to_text/R@1", 0.5, 3);
                if (name.equals("siglip")) {
                    run.end(RunStatus.FAILED, "loss is NaN at step 3");
                } else {
                    run.end(RunStatus.FINISHED, null);
                }
                ids.add(run.id());
            }
        }
        String experimentId = run(ids.get(0)).getAsJsonObject("info").get("experiment_id").getAsString();
        JsonObject search = server.post("/api/2.0/mlflow/runs/search", "{\"experiment_ids\":[\"" + experimentId + "\"]}");
        JsonArray runs = search.getAsJsonArray("runs");
        assertEquals(2, runs.size());
        List<Set<String>> keys = new ArrayList<>();
        for (JsonElement found : runs) {
            keys.add(new TreeSet<>(pairs(found.getAsJsonObject().getAsJsonObject("data"), "metrics").keySet()));
        }
        // MLflow refuses '@' in names: R@1 is logged as R_1.
        assertEquals(Set.of("train/loss", "train/lr", "eval/retrieval/image_to_text/R_1"), keys.get(0));
        assertEquals(keys.get(0), keys.get(1));
        JsonObject failed = run(ids.get(1));
        assertEquals("FAILED", failed.getAsJsonObject("info").get("status").getAsString());
        assertEquals("loss is NaN at step 3", pairs(failed.getAsJsonObject("data"), "tags").get("modalign.error"));
    }

    @Test
    void aSweepComesBackPageByPageWithInfoParentsHistoriesAndConfigurations(@TempDir Path spool, @TempDir Path files)
            throws Exception {
        String experiment = "readback-sweep-" + System.nanoTime();
        String parentId;
        List<String> children = new ArrayList<>();
        try (MlflowTracker tracker = tracker(spool)) {
            var parent = tracker.startRun(new RunSpec(experiment, "sweep", null));
            parentId = parent.id();
            for (int child = 0; child < 5; child++) {
                Thread.sleep(5);
                var run = tracker.startRun(new RunSpec(experiment, "trial-" + child, parentId));
                run.logParams(Map.of("seed", Integer.toString(child % 2), "losses.0.temperature", child < 3 ? "0.05" : "0.1"));
                for (long step = 0; step < 30; step++) {
                    run.logMetric("train/loss", child + 1.0 / (step + 1), step);
                }
                run.logMetric("eval/retrieval/image_to_text/R@1", 0.1 * child, 30);
                Path yaml = Files.writeString(files.resolve("resolved-" + child + ".yaml"), "name: sweep\nseed: " + child + "\n");
                run.logArtifact(yaml, "config/resolved.yaml");
                if (child == 4) {
                    run.end(RunStatus.FAILED, "loss became NaN at step 7");
                } else {
                    run.end(RunStatus.FINISHED, null);
                }
                children.add(run.id());
            }
            parent.end(RunStatus.FINISHED, null);
            var other = tracker.startRun(new RunSpec(experiment + "-other", "elsewhere", null));
            other.end(RunStatus.FINISHED, null);
        }
        // A deleted run is not one of the experiment's runs any more.
        server.post("/api/2.0/mlflow/runs/delete", "{\"run_id\":\"" + children.get(3) + "\"}");

        try (MlflowTracker reader = tracker(files.resolve("reader-spool"))) {
            reader.searchPageSize(2);
            List<dev.modalign.api.RecordedRun> runs = reader.searchRuns(experiment);
            assertEquals(5, runs.size(), "the parent and four live trials, over three pages of two");
            assertEquals(parentId, runs.get(0).runId(), "oldest first");
            assertEquals(new TreeSet<>(List.of(children.get(0), children.get(1), children.get(2), children.get(4))),
                    new TreeSet<>(runs.subList(1, 5).stream().map(dev.modalign.api.RecordedRun::runId).toList()));
            dev.modalign.api.RecordedRun parent = runs.get(0);
            assertEquals(experiment, parent.info().experiment());
            assertEquals("sweep", parent.info().runName());
            assertEquals(null, parent.info().parentRunId());
            assertEquals(RunStatus.FINISHED, parent.info().status());
            for (dev.modalign.api.RecordedRun run : runs.subList(1, 5)) {
                int child = children.indexOf(run.runId());
                assertEquals("trial-" + child, run.info().runName());
                assertEquals(parentId, run.info().parentRunId(), "the parent is MLflow's tag mlflow.parentRunId");
                assertEquals(child == 4 ? RunStatus.FAILED : RunStatus.FINISHED, run.info().status());
                assertTrue(run.info().startTime() > 0 && run.info().endTime() >= run.info().startTime(), run.info().toString());
                assertEquals(Integer.toString(child % 2), run.params().get("seed"));
                assertEquals(child + 1.0 / 30, run.metrics().get("train/loss"), 1e-12, "the value at the last step");
                assertEquals(0.1 * child, run.metrics().get("eval/retrieval/image_to_text/R_1"), 1e-12);
                assertEquals("", run.resolvedYaml(), "bulk answers leave the configuration out");
            }
            assertEquals("loss became NaN at step 7", runs.stream().filter(run -> run.runId().equals(children.get(4)))
                    .findFirst().orElseThrow().tags().get("modalign.error"));

            List<dev.modalign.api.MetricPoint> history = reader.metricHistory(children.get(2), "train/loss");
            assertEquals(30, history.size());
            for (int step = 0; step < 30; step++) {
                assertEquals(step, history.get(step).step());
                assertEquals(2 + 1.0 / (step + 1), history.get(step).value(), 1e-12);
            }
            assertEquals(List.of(30L), reader.metricHistory(children.get(1), "eval/retrieval/image_to_text/R@1").stream()
                    .map(dev.modalign.api.MetricPoint::step).toList(), "asked by the name it was logged under");
            assertEquals(List.of(), reader.metricHistory(children.get(1), "train/lr"));
            assertEquals(List.of(), reader.metricHistory("0123456789abcdef0123456789abcdef", "train/loss"));

            dev.modalign.api.RecordedRun fetched = reader.fetchRun(children.get(1)).orElseThrow();
            assertEquals("name: sweep\nseed: 1\n", fetched.resolvedYaml());
            assertEquals(new dev.modalign.api.RecordedRun.Info(experiment, "trial-1", RunStatus.FINISHED, parentId,
                    fetched.info().startTime(), fetched.info().endTime()), fetched.info());
            assertEquals("", reader.fetchRun(parentId).orElseThrow().resolvedYaml(), "the parent recorded no configuration");
            assertEquals(List.of(), reader.searchRuns(experiment + "-missing"));
        }
    }

    @Test
    void readingFromAnUnreachableServerNamesItAndSaysHowToStartOne(@TempDir Path spool) {
        try (MlflowTracker tracker = tracker(spool, 0, Map.of(), "http://127.0.0.1:1")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> tracker.searchRuns("anything"));
            assertTrue(e.getMessage().contains("http://127.0.0.1:1") && e.getMessage().contains("scripts/mlflow-server start"),
                    e.getMessage());
            assertThrows(IllegalStateException.class, () -> tracker.metricHistory("r", "train/loss"));
        }
    }

    @Test
    void aRefusedRecordIsReportedNotRetriedAndTheRestArrives(@TempDir Path spool) throws Exception {
        MlflowRun run;
        long took;
        try (MlflowTracker tracker = tracker(spool)) {
            run = (MlflowRun) tracker.startRun(new RunSpec("refused", "bad-key", null));
            Map<String, String> params = new LinkedHashMap<>();
            params.put("good", "1");
            params.put("bad*key", "2");
            // Over the 250-character limit of a param key: refused by the server with a 400.
            params.put("k".repeat(300), "3");
            run.logParams(params);
            run.logMetric("train/loss", 0.5, 0);
            long start = System.nanoTime();
            run.end(RunStatus.FINISHED, null);
            took = (System.nanoTime() - start) / 1_000_000;
        }
        SpoolState state = run.state();
        assertTrue(state.done, "the run reached its end on the server");
        assertEquals(1, state.rejected.size(), "one refused entry: " + state.rejected.size());
        assertTrue(state.rejected.get(0).reason().contains("kkk") && state.rejected.get(0).reason().contains("400"),
                state.rejected.get(0).reason());
        assertTrue(took < 10_000, "end did not wait on retries of a refused request, took " + took + " ms");
        JsonObject found = run(run.id());
        // 'bad*key' is renamed to a name MLflow accepts; the over-long key is refused and reported.
        assertEquals(Map.of("good", "1", "bad_key", "2"), pairs(found.getAsJsonObject("data"), "params"));
        assertEquals(Map.of(0L, 1), stepCounts(run.id(), "train/loss"));
    }

    @Test
    void largeBatchesAreSplitWithinMlflowLimits(@TempDir Path spool) throws Exception {
        String runId;
        double upNanosPerCall;
        try (MlflowTracker tracker = tracker(spool)) {
            var run = tracker.startRun(new RunSpec("split", "big", null));
            Map<String, String> params = new LinkedHashMap<>();
            for (int i = 0; i < 250; i++) {
                params.put("p" + i, "v" + i);
            }
            run.logParams(params);
            long start = System.nanoTime();
            for (long step = 0; step < 2500; step++) {
                run.logMetric("train/loss", step * 0.5, step);
            }
            upNanosPerCall = (System.nanoTime() - start) / 2500.0;
            run.end(RunStatus.FINISHED, null);
            runId = run.id();
        }
        System.out.printf("logMetric with the server up: %.1f us/call%n", upNanosPerCall / 1000);
        Map<Long, Integer> steps = stepCounts(runId, "train/loss");
        assertEquals(2500, steps.size());
        assertTrue(steps.values().stream().allMatch(count -> count == 1));
        assertEquals(250, pairs(run(runId).getAsJsonObject("data"), "params").size());
    }

    @Test
    void credentialsFromTheEnvironmentAreSentButNeverSpooled(@TempDir Path spool) throws Exception {
        List<String> authorizations = new CopyOnWriteArrayList<>();
        HttpServer proxy = recordingProxy(authorizations);
        try {
            String proxied = "http://127.0.0.1:" + proxy.getAddress().getPort();
            String token = "tok-" + Long.toHexString(System.nanoTime());
            try (MlflowTracker tracker = tracker(spool, 20, Map.of("MLFLOW_TRACKING_TOKEN", token), proxied)) {
                var run = tracker.startRun(new RunSpec("credentials", "token", null));
                run.logMetric("train/loss", 1, 0);
                run.end(RunStatus.FINISHED, null);
            }
            assertFalse(authorizations.isEmpty());
            assertTrue(authorizations.stream().allMatch(("Bearer " + token)::equals), authorizations.toString());
            authorizations.clear();
            String password = "pw-" + Long.toHexString(System.nanoTime());
            try (MlflowTracker tracker = tracker(spool, 20,
                    Map.of("MLFLOW_TRACKING_USERNAME", "ada", "MLFLOW_TRACKING_PASSWORD", password), proxied)) {
                var run = tracker.startRun(new RunSpec("credentials", "basic", null));
                run.logMetric("train/loss", 1, 0);
                run.end(RunStatus.FINISHED, null);
            }
            String basic = "Basic " + java.util.Base64.getEncoder()
                    .encodeToString(("ada:" + password).getBytes(StandardCharsets.UTF_8));
            assertFalse(authorizations.isEmpty());
            assertTrue(authorizations.stream().allMatch(basic::equals), authorizations.toString());
            try (Stream<Path> all = Files.walk(spool)) {
                for (Path file : all.filter(Files::isRegularFile).toList()) {
                    String text = Files.readString(file, StandardCharsets.ISO_8859_1);
                    assertFalse(text.contains(token) || text.contains(password) || text.contains(basic.substring(6)),
                            "credentials written to " + file);
                }
            }
        } finally {
            proxy.stop(0);
        }
    }

    /** A proxy in front of the test server that records each request's Authorization header. */
    private static HttpServer recordingProxy(List<String> authorizations) throws IOException {
        HttpClient client = HttpClient.newHttpClient();
        HttpServer proxy = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        proxy.createContext("/", exchange -> {
            String header = exchange.getRequestHeaders().getFirst("Authorization");
            authorizations.add(header == null ? "(none)" : header);
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
                body = in.readAllBytes();
            }
            HttpRequest.Builder forward = HttpRequest.newBuilder(URI.create(server.uri() + exchange.getRequestURI()))
                    .method(exchange.getRequestMethod(), body.length == 0 ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofByteArray(body));
            String type = exchange.getRequestHeaders().getFirst("Content-Type");
            if (type != null) {
                forward.header("Content-Type", type);
            }
            try {
                HttpResponse<byte[]> answer = client.send(forward.build(), HttpResponse.BodyHandlers.ofByteArray());
                exchange.sendResponseHeaders(answer.statusCode(), answer.body().length == 0 ? -1 : answer.body().length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(answer.body());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                exchange.sendResponseHeaders(502, -1);
            }
        });
        proxy.start();
        return proxy;
    }

    @Test
    void anUnreachableServerGivesALocalIdAndTheRunIsCreatedBySync(@TempDir Path spool) throws Exception {
        String dead = "http://127.0.0.1:1";
        String localId;
        try (MlflowTracker tracker = tracker(spool, 0, Map.of(), dead)) {
            var run = tracker.startRun(new RunSpec("offline", "later", null));
            localId = run.id();
            assertTrue(localId.startsWith(MlflowTracker.LOCAL_ID_PREFIX), localId);
            run.logParams(Map.of("seed", "3"));
            run.logMetric("train/loss", 0.25, 0);
            run.end(RunStatus.KILLED, "interrupted");
        }
        try (MlflowTracker syncing = tracker(spool)) {
            assertEquals(4, syncing.sync(), "start, params, metric and end are replayed");
        }
        JsonObject search = server.post("/api/2.0/mlflow/runs/search", "{\"experiment_ids\":[\""
                + server.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=offline").getAsJsonObject("experiment")
                        .get("experiment_id").getAsString() + "\"]}");
        JsonObject found = search.getAsJsonArray("runs").get(0).getAsJsonObject();
        assertEquals("KILLED", found.getAsJsonObject("info").get("status").getAsString());
        assertEquals(localId, pairs(found.getAsJsonObject("data"), "tags").get("modalign.spool_id"));
        assertEquals("interrupted", pairs(found.getAsJsonObject("data"), "tags").get("modalign.error"));
        assertEquals(Map.of("seed", "3"), pairs(found.getAsJsonObject("data"), "params"));
    }

    @Test
    void parametersAreValidatedByKey() {
        InvalidParamException uri = assertThrows(InvalidParamException.class,
                () -> new MlflowTracker.Params("file:///tmp/x", 10, 1000, "", 30));
        assertEquals("uri", uri.key());
        assertEquals("request_timeout_s", assertThrows(InvalidParamException.class,
                () -> new MlflowTracker.Params("http://127.0.0.1:5000", 0, 1000, "", 30)).key());
        assertEquals("end_wait_s", assertThrows(InvalidParamException.class,
                () -> new MlflowTracker.Params("http://127.0.0.1:5000", 10, 1000, "", -1)).key());
        assertEquals(new HashSet<>(List.of("uri", "requestTimeoutS", "flushIntervalMs", "spoolDir", "endWaitS")),
                new HashSet<>(Stream.of(MlflowTracker.Params.class.getRecordComponents()).map(c -> c.getName()).toList()));
    }
}
