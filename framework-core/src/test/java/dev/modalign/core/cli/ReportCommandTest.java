package dev.modalign.core.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code modalign report} on a local store whose files the test writes as LocalTracker writes them:
 * the numbers in the page against values worked out by hand, and the same runs giving the same bytes.
 */
class ReportCommandTest {

    private static final String R1 = "eval/retrieval/image_to_text/R_at_1";
    private static final String LOSS = "eval/probe/val_loss";

    @TempDir
    Path dir;

    Path store;

    record Result(int code, String out, String err) {}

    private static Result report(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream originalOut = System.out;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            List<String> all = new ArrayList<>(List.of("report"));
            all.addAll(List.of(args));
            int code = Main.execute(all.toArray(String[]::new), o, e);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(originalOut);
        }
    }

    /** One run directory: records.jsonl (start, params, tags, metrics, artifact, end), run.json and the resolved YAML. */
    private void run(String experiment, String id, long start, String status, String message, String parent,
            Map<String, String> params, Map<String, double[][]> metrics) throws IOException {
        Path run = store.resolve(experiment).resolve(id);
        Files.createDirectories(run.resolve("artifacts/config"));
        List<String> lines = new ArrayList<>();
        long[] seq = {0};
        java.util.function.BiConsumer<String, JsonObject> append = (kind, data) -> {
            JsonObject record = new JsonObject();
            record.addProperty("seq", ++seq[0]);
            record.addProperty("time", start + seq[0]);
            record.addProperty("kind", kind);
            record.add("data", data);
            lines.add(record.toString());
        };
        JsonObject startData = new JsonObject();
        startData.addProperty("experiment", experiment);
        startData.addProperty("run_name", id);
        append.accept("start", startData);
        if (!params.isEmpty()) {
            JsonObject p = new JsonObject();
            params.forEach(p::addProperty);
            append.accept("params", p);
            StringBuilder yaml = new StringBuilder("name: " + experiment + "\n");
            new TreeMap<>(params).forEach((k, v) -> yaml.append(k).append(": ").append(v).append('\n'));
            Files.writeString(run.resolve("artifacts/config/resolved.yaml"), yaml);
            JsonObject artifact = new JsonObject();
            artifact.addProperty("path", "config/resolved.yaml");
            append.accept("artifact", artifact);
        }
        metrics.forEach((key, points) -> {
            for (double[] point : points) {
                JsonObject m = new JsonObject();
                m.addProperty("key", key);
                m.addProperty("value", point[1]);
                m.addProperty("step", (long) point[0]);
                append.accept("metric", m);
            }
        });
        JsonObject end = new JsonObject();
        end.addProperty("status", status);
        if (message != null) {
            end.addProperty("message", message);
        }
        append.accept("end", end);
        Files.writeString(run.resolve("records.jsonl"), String.join("\n", lines) + "\n");
        JsonObject meta = new JsonObject();
        meta.addProperty("id", id);
        meta.addProperty("experiment", experiment);
        meta.addProperty("run_name", id);
        if (parent != null) {
            meta.addProperty("parent_run_id", parent);
        }
        meta.addProperty("status", status);
        meta.addProperty("start_time", start);
        meta.addProperty("end_time", start + 1000);
        if (message != null) {
            meta.addProperty("message", message);
        }
        Files.writeString(run.resolve("run.json"), meta.toString());
    }

    private static Map<String, double[][]> metrics(double r1, double loss, double... curve) {
        Map<String, double[][]> metrics = new LinkedHashMap<>();
        double[][] points = new double[curve.length][];
        for (int i = 0; i < curve.length; i++) {
            points[i] = new double[] {10 * i, curve[i]};
        }
        metrics.put("train/loss", points);
        metrics.put(R1, new double[][] {{20, r1}});
        metrics.put(LOSS, new double[][] {{20, loss}});
        return metrics;
    }

    @BeforeEach
    void writeStore() throws IOException {
        store = dir.resolve("runs");
        // clip: R@1 0.10, 0.12, 0.14 -> 0.120 +- 0.020; val_loss 0.2, 0.3, 0.4 -> 0.300 +- 0.100 (the best: lower).
        run("clip-tux", "20260101-000003-c00003", 3000, "FINISHED", null, null, Map.of("seed", "3", "lr", "0.001"),
                metrics(0.14, 0.4, 1.8, 1.3, 0.8));
        run("clip-tux", "20260101-000001-c00001", 1000, "FINISHED", null, null, Map.of("seed", "1", "lr", "0.001"),
                metrics(0.10, 0.2, 2.0, 1.5, 1.0));
        run("clip-tux", "20260101-000002-c00002", 2000, "FINISHED", null, null, Map.of("seed", "2", "lr", "0.001"),
                metrics(0.12, 0.3, 2.2, 1.7, 1.2));
        // siglip: R@1 0.20, 0.30 -> 0.250 +- 0.071 (the best); val_loss 0.5, 0.7 -> 0.600 +- 0.141. Seed 3 failed:
        // its values would raise R@1 and lower the loss, and must not count.
        run("siglip-tux", "20260101-000004-s00001", 4000, "FINISHED", null, null, Map.of("seed", "1", "lr", "0.001"),
                metrics(0.20, 0.5, 3.0, 2.0, 1.0));
        run("siglip-tux", "20260101-000005-s00002", 5000, "FINISHED", null, null, Map.of("seed", "2", "lr", "0.001"),
                metrics(0.30, 0.7, 2.0, 1.0, 0.5));
        run("siglip-tux", "20260101-000006-s00003", 6000, "FAILED", "loss became NaN at step 12 | see the log\nmore",
                null, Map.of("seed", "3", "lr", "0.001"), metrics(0.99, 0.01, 9.0));
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
    void methodsByExperimentWithMeansSpreadsBestMarksAndTheFailedRunListed() throws IOException {
        Path out = dir.resolve("reports/tux");
        Result result = report("--name", "tux", "--runs-dir", store.toString(), "--experiment", "clip-tux",
                "--experiment", "siglip-tux", "--metric", R1, "--metric", LOSS, "--out", out.toString());
        assertEquals(0, result.code(), result.err() + result.out());
        assertTrue(result.out().contains("experiment siglip-tux: 3 run(s), 2 finished"), result.out());
        String readme = Files.readString(out.resolve("README.md"));
        assertTrue(readme.contains("| experiment | n | retrieval/image_to_text/R_at_1 | probe/val_loss ↓ |\n"), readme);
        assertTrue(readme.contains("| clip-tux | 3 | 0.120 ± 0.020 | **0.300 ± 0.100** |\n"), readme);
        assertTrue(readme.contains("| siglip-tux | 2 (+1 not finished) | **0.250 ± 0.071** | 0.600 ± 0.141 |\n"), readme);
        assertTrue(readme.contains("| siglip-tux | 3 | `20260101-000006-s00003` | FAILED: loss became NaN at step 12 \\| see"
                + " the log | [seed-3.yaml](experiments/siglip-tux/seed-3.yaml) |"), readme);
        assertTrue(readme.indexOf("`20260101-000001-c00001`") < readme.indexOf("`20260101-000002-c00002`")
                && readme.indexOf("`20260101-000002-c00002`") < readme.indexOf("`20260101-000003-c00003`"), "runs by seed");
        assertTrue(readme.contains("![train/loss](charts/curve-train-loss.png)"), readme);
        assertTrue(readme.contains("![" + R1 + "](charts/bar-eval-retrieval-image_to_text-R_at_1.png)"), readme);
        assertEquals("name: clip-tux\nlr: 0.001\nseed: 2\n", Files.readString(out.resolve("experiments/clip-tux/seed-2.yaml")));

        JsonObject results = JsonParser.parseString(Files.readString(out.resolve("results.json"))).getAsJsonObject();
        JsonObject clip = results.getAsJsonArray("methods").get(0).getAsJsonObject();
        assertEquals("clip-tux", clip.get("name").getAsString());
        JsonObject clipR1 = clip.getAsJsonObject("metrics").getAsJsonObject(R1);
        assertEquals(0.12, clipR1.get("mean").getAsDouble(), 1e-12);
        assertEquals(0.02, clipR1.get("std").getAsDouble(), 1e-12);
        assertEquals(3, clipR1.get("n").getAsInt());
        assertTrue(clip.getAsJsonObject("metrics").getAsJsonObject(LOSS).get("best").getAsBoolean());
        JsonObject siglip = results.getAsJsonArray("methods").get(1).getAsJsonObject();
        assertEquals(Math.sqrt(0.005), siglip.getAsJsonObject("metrics").getAsJsonObject(R1).get("std").getAsDouble(), 1e-12);
        assertEquals("FAILED", siglip.getAsJsonArray("runs").get(2).getAsJsonObject().get("status").getAsString());
        assertEquals("lower", results.getAsJsonArray("metrics").get(1).getAsJsonObject().get("better").getAsString());
        // train/loss at steps 0, 10, 20: clip's three seeds average to 2.0, 1.5, 1.0.
        JsonObject clipCurve = results.getAsJsonObject("curves").getAsJsonObject("train/loss").getAsJsonObject("clip-tux");
        assertEquals("[2.0,1.5,1.0]", clipCurve.get("mean").toString());
        assertEquals("[0,10,20]", clipCurve.get("steps").toString());

        BufferedImage chart = ImageIO.read(new ByteArrayInputStream(Files.readAllBytes(out.resolve("charts/curve-train-loss.png"))));
        assertEquals(900, chart.getWidth());
        assertEquals(540, chart.getHeight());
    }

    @Test
    void theSameRunsRegenerateByteIdenticalFiles() throws IOException {
        Path out = dir.resolve("reports/again");
        Files.createDirectories(out);
        Files.writeString(out.resolve("notes.md"), "Findings: siglip leads on R@1.\n");
        String[] args = {"--name", "again", "--runs-dir", store.toString(), "--experiment", "siglip-tux", "--experiment",
            "clip-tux", "--notes", out.resolve("notes.md").toString(), "--out", out.toString()};
        assertEquals(0, report(args).code());
        Map<String, byte[]> first = files(out);
        // Everything but the notes goes; a second generation must make every byte again.
        try (Stream<Path> paths = Files.walk(out)) {
            for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                if (!path.equals(out) && !path.getFileName().toString().equals("notes.md")) {
                    Files.delete(path);
                }
            }
        }
        assertEquals(0, report(args).code());
        Map<String, byte[]> second = files(out);
        assertEquals(first.keySet(), second.keySet());
        long pngs = first.keySet().stream().filter(name -> name.endsWith(".png")).count();
        assertEquals(1 + 2, pngs, "the train/loss curve and a bar chart for each eval metric (R@1, val_loss)");
        first.forEach((name, bytes) -> assertArrayEquals(bytes, second.get(name), name + " differs"));
        String readme = new String(first.get("README.md"), StandardCharsets.UTF_8);
        assertTrue(readme.contains("\nFindings: siglip leads on R@1.\n"), readme);
        assertTrue(readme.indexOf("| siglip-tux | 2") < readme.indexOf("| clip-tux | 3"), "rows in the order asked");
        assertFalse(readme.matches("(?s).*20[0-9]{2}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:.*"), "no date in the page");
    }

    @Test
    void aSweepsChildrenAreGroupedByTheSweptParameter() throws IOException {
        run("sweep-tux", "20260102-000000-p00000", 10, "FINISHED", null, null, Map.of(), Map.of());
        String parent = "20260102-000000-p00000";
        int i = 0;
        for (String temperature : new String[] {"0.1", "0.05"}) {
            for (String seed : new String[] {"1", "2"}) {
                i++;
                run("sweep-tux", "20260102-00000" + i + "-t0000" + i, 100 + i, "FINISHED", null, parent,
                        Map.of("seed", seed, "losses.0.temperature", temperature, "lr", "0.001"),
                        metrics(Double.parseDouble(temperature) + Integer.parseInt(seed) / 100.0, 0.5, 1.0, 0.5));
            }
        }
        Path out = dir.resolve("sweep");
        Result result = report("--name", "sweep", "--runs-dir", store.toString(), "--parent", parent, "--metric", R1,
                "--out", out.toString());
        assertEquals(0, result.code(), result.err() + result.out());
        String readme = Files.readString(out.resolve("README.md"));
        // 0.05 + (0.01, 0.02) -> 0.065 +- 0.007; 0.1 + (0.01, 0.02) -> 0.115 +- 0.007 (the best).
        assertTrue(readme.contains("| losses.0.temperature | n | R_at_1 |\n"), readme);
        assertTrue(readme.contains("| 0.05 | 2 | 0.065 ± 0.007 |\n| 0.1 | 2 | **0.115 ± 0.007** |\n"), readme);
        assertTrue(readme.contains("the sweep `" + parent + "` (parent run `" + parent + "`"), readme);

        Result byExperiment = report("--name", "sweep2", "--runs-dir", store.toString(), "--experiment", "sweep-tux",
                "--metric", R1, "--out", dir.resolve("sweep2").toString());
        assertEquals(0, byExperiment.code(), byExperiment.err());
        String again = Files.readString(dir.resolve("sweep2/README.md"));
        assertTrue(again.contains("| 0.05 | 2 | 0.065 ± 0.007 |\n| 0.1 | 2 | **0.115 ± 0.007** |\n"), again);
        assertTrue(again.contains("1 sweep parent run(s) are left out"), again);
    }

    @Test
    void runsNamedByRunAreTheOnlyOnesCompared() throws IOException {
        Path out = dir.resolve("two");
        Result result = report("--name", "two", "--runs-dir", store.toString(), "--experiment", "clip-tux", "--run",
                "20260101-000003-c00003", "--run", "20260101-000001-c00001", "--metric", R1, "--out", out.toString());
        assertEquals(0, result.code(), result.err());
        String readme = Files.readString(out.resolve("README.md"));
        // Seeds 1 and 3: 0.10 and 0.14 -> 0.120 +- 0.028; seed 2 is not named.
        assertTrue(readme.contains("| clip-tux | 2 | 0.120 ± 0.028 |\n"), readme);
        assertFalse(readme.contains("20260101-000002-c00002"), readme);
        String command = JsonParser.parseString(Files.readString(out.resolve("results.json"))).getAsJsonObject()
                .get("command").getAsString();
        assertTrue(command.contains("--run 20260101-000001-c00001 --run 20260101-000003-c00003"), command);
        Result missing = report("--name", "two", "--runs-dir", store.toString(), "--experiment", "clip-tux", "--run",
                "20260101-000004-s00001", "--out", out.toString());
        assertEquals(Main.BAD_INPUT, missing.code());
        assertTrue(missing.err().contains("--run 20260101-000004-s00001: not a run of the experiments clip-tux"),
                missing.err());
    }

    @Test
    void errorsSayWhatIsThereAndWhatToDo() {
        Result unknown = report("--name", "x", "--runs-dir", store.toString(), "--experiment", "clip-tuxx", "--out",
                dir.resolve("x").toString());
        assertEquals(Main.BAD_INPUT, unknown.code());
        assertTrue(unknown.err().contains("--experiment clip-tuxx: no runs in " + store + ", did you mean 'clip-tux'?"
                + " (experiments there: clip-tux, siglip-tux)"), unknown.err());
        Result metric = report("--name", "x", "--runs-dir", store.toString(), "--experiment", "clip-tux", "--metric",
                "eval/retrieval/image_to_text/R@1", "--out", dir.resolve("x").toString());
        assertEquals(Main.BAD_INPUT, metric.code());
        assertTrue(metric.err().contains("--metric eval/retrieval/image_to_text/R@1: no run logged it, did you mean '"
                + R1 + "'?"), metric.err());
        Result noStore = report("--name", "x", "--runs-dir", dir.resolve("nowhere").toString(), "--experiment", "clip-tux");
        assertEquals(Main.BAD_INPUT, noStore.code());
        assertTrue(noStore.err().contains("no local store at " + dir.resolve("nowhere")), noStore.err());
        Result parent = report("--name", "x", "--runs-dir", store.toString(), "--parent", "20260101-000001-c00001");
        assertEquals(Main.BAD_INPUT, parent.code());
        assertTrue(parent.err().contains("has no child runs"), parent.err());
        Result both = report("--name", "x", "--runs-dir", store.toString(), "--parent", "p", "--experiment", "clip-tux");
        assertEquals(Main.BAD_INPUT, both.code());
        Result groupBy = report("--name", "x", "--runs-dir", store.toString(), "--experiment", "clip-tux", "--group-by",
                "lr2", "--out", dir.resolve("x").toString());
        assertEquals(Main.BAD_INPUT, groupBy.code());
        assertTrue(groupBy.err().contains("--group-by lr2: no run has this parameter, did you mean 'lr'?"), groupBy.err());
        assertFalse(Files.exists(dir.resolve("x")), "nothing is written when the runs cannot be read");
    }
}
