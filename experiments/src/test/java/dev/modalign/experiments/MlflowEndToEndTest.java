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
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
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
}
