package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The command line logging into a real MLflow server, started with the project's own script, and
 * the runs read back through MLflow's REST API as the compare view would see them.
 */
class MlflowEndToEndTest {

    static MlflowServer server;
    static String uri;

    @BeforeAll
    static void startServer() throws Exception {
        server = MlflowServer.start();
        uri = server.uri();
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.stop();
    }

    @Test
    void twoRunsAreRecordedSideBySideWithEverythingARunLogs() throws Exception {
        String experiment = "e2e-" + UUID.randomUUID();
        Path spool = Files.createTempDirectory("modalign-spool");
        for (String seed : new String[] {"1", "2"}) {
            Cli.Result run = Cli.run("run", Cli.repo().resolve("experiments/quickstart.yaml").toString(), "--tracking-uri", uri,
                    "--set", "seed=" + seed, "--set", "tracking.experiment=" + experiment, "--set",
                    "tracking.options={spool_dir: " + spool + "}", "--set", "data.train.size=512", "--set", "train.max_steps=6",
                    "--set", "train.batch_size=64", "--set", "train.log_every=1", "--set", "data.eval.size=64");
            assertEquals(0, run.code(), run.err());
            assertTrue(run.out().contains(uri), "the run says where it is recorded:\n" + run.out());
        }

        String experimentId = server.experimentId(experiment);
        JsonArray runs = server.runsOf(experiment);
        assertEquals(2, runs.size());
        Set<String> metricKeys = null;
        String someRunId = null;
        for (JsonElement element : runs) {
            JsonObject run = element.getAsJsonObject();
            JsonObject info = run.getAsJsonObject("info");
            String runId = info.get("run_id").getAsString();
            someRunId = runId;
            assertEquals("FINISHED", info.get("status").getAsString());
                        Map<String, String> params = MlflowServer.entries(run, "params");
            assertEquals("clip", params.get("losses.0.type"));
            assertEquals("64", params.get("train.batch_size"));
            assertEquals("0.07", params.get("losses.0.temperature"));
            Map<String, String> tags = MlflowServer.entries(run, "tags");
            assertEquals("0.1.0", tags.get("modalign.plugin.clip"));
            assertTrue(tags.containsKey("modalign.source_revision") && tags.containsKey("modalign.data.train"), tags.toString());
            Set<String> keys = new TreeSet<>(MlflowServer.entries(run, "metrics").keySet());
            assertTrue(keys.containsAll(Set.of("train/loss", "train/lr", "train/clip/temperature",
                    "eval/retrieval/image_to_text/R_at_1", "eval/retrieval/text_to_image/MRR")), keys.toString());
            if (metricKeys != null) {
                assertEquals(metricKeys, keys, "runs of one experiment have the same metric keys, so MLflow lines them up");
            }
            metricKeys = keys;
            JsonArray history = server.call("GET", "/api/2.0/mlflow/metrics/get-history?run_id=" + runId + "&metric_key=train/loss",
                    null).getAsJsonArray("metrics");
            assertEquals(6, history.size(), "every step's loss, each once");
            HttpResponse<String> resolved = MlflowServer.HTTP.send(HttpRequest.newBuilder(URI.create(uri
                    + "/api/2.0/mlflow-artifacts/artifacts/" + experimentId + "/" + runId + "/artifacts/config/resolved.yaml"))
                    .GET().build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, resolved.statusCode());
            assertTrue(resolved.body().contains("type: clip"), resolved.body());
            HttpResponse<byte[]> checkpoint = MlflowServer.HTTP.send(HttpRequest.newBuilder(URI.create(uri
                    + "/api/2.0/mlflow-artifacts/artifacts/" + experimentId + "/" + runId + "/artifacts/checkpoint/image.params"))
                    .GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, checkpoint.statusCode());
            assertTrue(checkpoint.body().length > 100_000, "the image tower's checkpoint is there");
        }

        // modalign rerun: from what MLflow holds alone, the same numbers again.
        Cli.Result rerun = Cli.run("rerun", someRunId, "--tracking-uri", uri);
        assertEquals(0, rerun.code(), rerun.err());
        assertTrue(rerun.out().contains("matches " + someRunId + " exactly"), rerun.out());

        // A tower of a new run starts from that run's checkpoint, downloaded from the server by run id.
        Cli.Result started = Cli.run("run", Cli.repo().resolve("experiments/quickstart.yaml").toString(), "--tracking-uri",
                uri, "--set", "tracking.experiment=" + experiment, "--set", "towers.image.init_from=run:" + someRunId,
                "--set", "towers.image.frozen=true", "--set", "data.train.size=512", "--set", "train.max_steps=2",
                "--set", "train.batch_size=64", "--set", "data.eval.size=64");
        assertEquals(0, started.code(), started.err());
        assertTrue(started.out().contains("tower 'image' starts from ") && started.out().contains("(frozen)"), started.out());
    }

    @Test
    void aRunStoppedBySigtermIsResumedByItsMlflowIdAsTheSameRun() throws Exception {
        String experiment = "e2e-resume-" + UUID.randomUUID();
        Path spool = Files.createTempDirectory("modalign-spool");
        Path cache = Files.createTempDirectory("modalign-cache");
        Path log = Files.createTempFile("modalign-child", ".log");
        List<String> args = new ArrayList<>(List.of("run", Cli.repo().resolve("experiments/quickstart.yaml").toString(),
                "--tracking-uri", uri, "--device", "cpu", "--plugin-dir", cache.resolve("no-plugins").toString(),
                "--set", "tracking.experiment=" + experiment, "--set", "tracking.options={spool_dir: " + spool + "}",
                "--set", "data.train.size=512", "--set", "train.batch_size=64", "--set", "train.epochs=2",
                "--set", "train.log_every=1", "--set", "data.eval.size=64", "--set", "train.checkpoint_every=3"));
        Process first = ChildJvm.start(log, cache, args.toArray(String[]::new));
        Pattern progress = Pattern.compile("step (\\d+)/16");
        long stopAfter = 4 + new java.util.Random().nextInt(8);
        long deadline = System.currentTimeMillis() + 300_000;
        while (true) {
            Matcher steps = progress.matcher(Files.readString(log));
            long reached = 0;
            while (steps.find()) {
                reached = Long.parseLong(steps.group(1));
            }
            if (reached >= stopAfter) {
                break;
            }
            assertTrue(first.isAlive() && System.currentTimeMillis() < deadline, Files.readString(log));
            Thread.sleep(20);
        }
        first.destroy(); // SIGTERM
        assertTrue(first.waitFor(120, TimeUnit.SECONDS));
        String firstLog = Files.readString(log);
        assertEquals(143, first.exitValue(), firstLog);
        Matcher id = Pattern.compile("run ([0-9a-f]{32}) \\(").matcher(firstLog);
        assertTrue(id.find(), firstLog);
        String runId = id.group(1);
        JsonObject info = server.call("GET", "/api/2.0/mlflow/runs/get?run_id=" + runId, null).getAsJsonObject("run")
                .getAsJsonObject("info");
        assertEquals("KILLED", info.get("status").getAsString(), "marked KILLED before the process ended");

        args.addAll(List.of("--resume", runId));
        Process second = ChildJvm.start(log, cache, args.toArray(String[]::new));
        assertTrue(second.waitFor(300, TimeUnit.SECONDS));
        String secondLog = Files.readString(log);
        assertEquals(0, second.exitValue(), secondLog);
        assertTrue(secondLog.contains("run " + runId + " resumed from step "), secondLog);
        JsonObject run = server.call("GET", "/api/2.0/mlflow/runs/get?run_id=" + runId, null).getAsJsonObject("run");
        assertEquals("FINISHED", run.getAsJsonObject("info").get("status").getAsString());
        assertTrue(MlflowServer.entries(run, "tags").containsKey("modalign.resumed_from_step"));
        JsonArray history = server.call("GET", "/api/2.0/mlflow/metrics/get-history?run_id=" + runId + "&metric_key=train/loss",
                null).getAsJsonArray("metrics");
        Map<Long, Integer> steps = new java.util.TreeMap<>();
        history.forEach(m -> steps.merge(m.getAsJsonObject().get("step").getAsLong(), 1, Integer::sum));
        assertEquals(16, steps.size(), "every step in the one run: " + steps);
        assertTrue(steps.values().stream().allMatch(count -> count == 1), "a stop at a step boundary repeats none: " + steps);
        String experimentId = run.getAsJsonObject("info").get("experiment_id").getAsString();
        HttpResponse<String> manifest = MlflowServer.HTTP.send(HttpRequest.newBuilder(URI.create(uri + "/api/2.0/mlflow-artifacts/artifacts/"
                + experimentId + "/" + runId + "/artifacts/checkpoint/resumable/manifest.json")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, manifest.statusCode(), "the final resumable checkpoint is an artifact");
        assertTrue(manifest.body().contains("\"step\": 16"), manifest.body());
    }
}
