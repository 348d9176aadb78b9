package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.modalign.api.MetricPoint;
import dev.modalign.api.RecordedRun;
import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import dev.modalign.api.Tracker;
import dev.modalign.core.compose.Trackers;
import dev.modalign.core.plugin.PluginLoader;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep logged into a real MLflow server through the mlflow tracker plugin (a parent, its trials,
 * their loss histories and configurations), read back through the Tracker API and by
 * {@code modalign report}, whose page must carry the numbers worked out by hand, twice the same bytes.
 */
class ReportEndToEndTest {

    private static final String R1 = "eval/retrieval/image_to_text/R_at_1";

    static Path serverDir;
    static int port;
    static String uri;

    @TempDir
    Path dir;

    @BeforeAll
    static void startServer() throws Exception {
        serverDir = Files.createTempDirectory("modalign-mlflow-report");
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        uri = "http://127.0.0.1:" + port;
        script("start");
    }

    @AfterAll
    static void stopServer() throws Exception {
        script("stop");
    }

    private static void script(String command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(Cli.repo().resolve("scripts/mlflow-server").toString(), command, "--port",
                Integer.toString(port), "--dir", serverDir.toString()).inheritIO().start();
        if (!process.waitFor(300, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IllegalStateException("scripts/mlflow-server " + command + " failed; see the output above");
        }
    }

    private Tracker tracker() {
        return Trackers.forUri(PluginLoader.load(List.of()), uri, Map.of(), dir.resolve("cache"), "test");
    }

    /** A trial: R@1 as given, train/loss = base / (step + 1) over 5 logged steps, and its configuration. */
    private TrackedRun trial(Tracker tracker, String experiment, String parent, String temperature, int seed, double r1,
            double base, RunStatus status) throws IOException {
        TrackedRun run = tracker.startRun(new RunSpec(experiment, "t" + temperature + "-s" + seed, parent));
        run.logParams(Map.of("seed", Integer.toString(seed), "losses.0.temperature", temperature, "train.batch_size", "64"));
        for (long step = 0; step < 50; step += 10) {
            run.logMetric("train/loss", base / (step + 1), step);
        }
        run.logMetric(R1, r1, 50);
        Path yaml = Files.writeString(dir.resolve("resolved-" + run.id() + ".yaml"),
                "name: sweep\nseed: " + seed + "\nlosses:\n- {type: clip, temperature: " + temperature + "}\n");
        run.logArtifact(yaml, "config/resolved.yaml");
        run.end(status, status == RunStatus.FAILED ? "loss became NaN at step 30" : null);
        return run;
    }

    private static Map<String, byte[]> files(Path root) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.filter(Files::isRegularFile).toList()) {
                files.put(root.relativize(path).toString(), Files.readAllBytes(path));
            }
        }
        return files;
    }

    @Test
    void aSweepLoggedToMlflowIsReadBackAndReported() throws Exception {
        String experiment = "report-e2e-" + UUID.randomUUID();
        String parentId;
        List<String> trials = new ArrayList<>();
        try (Tracker tracker = tracker()) {
            TrackedRun parent = tracker.startRun(new RunSpec(experiment, "temperature-sweep", null));
            parentId = parent.id();
            // temperature 0.05: R@1 0.30, 0.40 -> 0.350 +- 0.071; 0.1: 0.50, 0.70 -> 0.600 +- 0.141, the best.
            trials.add(trial(tracker, experiment, parentId, "0.05", 1, 0.30, 2.0, RunStatus.FINISHED).id());
            trials.add(trial(tracker, experiment, parentId, "0.05", 2, 0.40, 4.0, RunStatus.FINISHED).id());
            trials.add(trial(tracker, experiment, parentId, "0.1", 1, 0.50, 3.0, RunStatus.FINISHED).id());
            trials.add(trial(tracker, experiment, parentId, "0.1", 2, 0.70, 5.0, RunStatus.FINISHED).id());
            // Its R@1 would make 0.1's mean 0.73: a failed trial is listed, not counted.
            trials.add(trial(tracker, experiment, parentId, "0.1", 3, 0.99, 1.0, RunStatus.FAILED).id());
            parent.end(RunStatus.FINISHED, null);
        }

        try (Tracker reader = tracker()) {
            List<RecordedRun> runs = reader.searchRuns(experiment);
            assertEquals(6, runs.size());
            assertEquals(parentId, runs.get(0).runId());
            assertTrue(runs.subList(1, 6).stream().allMatch(run -> parentId.equals(run.info().parentRunId())));
            assertEquals(RunStatus.FAILED, runs.stream().filter(run -> run.runId().equals(trials.get(4))).findFirst()
                    .orElseThrow().info().status());
            List<MetricPoint> history = reader.metricHistory(trials.get(1), "train/loss");
            assertEquals(List.of(0L, 10L, 20L, 30L, 40L), history.stream().map(MetricPoint::step).toList());
            assertEquals(4.0 / 41, history.get(4).value(), 1e-12);
        }

        Path out = dir.resolve("reports/temperature");
        String[] args = {"report", "--name", "temperature", "--tracking-uri", uri, "--parent", parentId, "--metric", R1,
            "--out", out.toString()};
        Cli.Result result = Cli.run(args);
        assertEquals(0, result.code(), result.err());
        assertTrue(result.out().contains("sweep temperature-sweep (" + parentId + "): 5 trial run(s)"), result.out());
        String readme = Files.readString(out.resolve("README.md"));
        assertTrue(readme.contains("| losses.0.temperature | n | R_at_1 |\n|---|---|---|\n"
                + "| 0.05 | 2 | 0.350 ± 0.071 |\n| 0.1 | 2 (+1 not finished) | **0.600 ± 0.141** |\n"), readme);
        assertTrue(readme.contains("| 0.1 | 3 | `" + trials.get(4) + "` | FAILED: loss became NaN at step 30 |"), readme);
        assertEquals("name: sweep\nseed: 2\nlosses:\n- {type: clip, temperature: 0.05}\n",
                Files.readString(out.resolve("experiments/0.05/seed-2.yaml")));
        JsonObject results = JsonParser.parseString(Files.readString(out.resolve("results.json"))).getAsJsonObject();
        JsonObject hot = results.getAsJsonArray("methods").get(1).getAsJsonObject();
        assertEquals("0.1", hot.getAsJsonObject("settings").get("losses.0.temperature").getAsString());
        assertEquals(0.6, hot.getAsJsonObject("metrics").getAsJsonObject(R1).get("mean").getAsDouble(), 1e-12);
        assertEquals(Math.sqrt(0.02), hot.getAsJsonObject("metrics").getAsJsonObject(R1).get("std").getAsDouble(), 1e-12);
        // train/loss of 0.05 at step 10: (2 + 4) / 2 / 11.
        JsonObject cool = results.getAsJsonObject("curves").getAsJsonObject("train/loss").getAsJsonObject("0.05");
        assertEquals(3.0 / 11, cool.getAsJsonArray("mean").get(1).getAsDouble(), 1e-12);
        assertTrue(Files.size(out.resolve("charts/curve-train-loss.png")) > 1000);

        Map<String, byte[]> first = files(out);
        assertEquals(0, Cli.run(args).code());
        Map<String, byte[]> second = files(out);
        assertEquals(first.keySet(), second.keySet());
        first.forEach((name, bytes) -> assertArrayEquals(bytes, second.get(name), name + " changed between two generations"));

        Cli.Result byExperiment = Cli.run("report", "--name", "by-experiment", "--tracking-uri", uri, "--experiment",
                experiment, "--metric", R1, "--out", dir.resolve("by-experiment").toString());
        assertEquals(0, byExperiment.code(), byExperiment.err());
        String again = Files.readString(dir.resolve("by-experiment/README.md"));
        assertTrue(again.contains("| 0.05 | 2 | 0.350 ± 0.071 |\n| 0.1 | 2 (+1 not finished) | **0.600 ± 0.141** |\n"), again);
        assertTrue(again.contains("1 sweep parent run(s) are left out"), again);
    }

    @Test
    void unknownExperimentsAndUnreachableServersAreClearErrors() {
        Cli.Result unknown = Cli.run("report", "--name", "x", "--tracking-uri", uri, "--experiment", "no-such-experiment",
                "--out", dir.resolve("x").toString());
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("--experiment no-such-experiment: no runs in " + uri), unknown.err());
        Cli.Result away = Cli.run("report", "--name", "x", "--tracking-uri", "http://127.0.0.1:1", "--experiment", "any",
                "--out", dir.resolve("x").toString());
        assertEquals(1, away.code());
        assertTrue(away.err().contains("http://127.0.0.1:1") && away.err().contains("scripts/mlflow-server start"),
                away.err());
    }
}
