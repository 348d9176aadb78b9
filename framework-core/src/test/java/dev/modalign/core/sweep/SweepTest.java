package dev.modalign.core.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.modalign.core.Experiments;
import dev.modalign.core.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A sweep run from the command line: trials in child processes, a failed one recorded, aggregates on the parent. */
class SweepTest {

    @TempDir
    Path dir;

    /** The tiny experiment with a loss that turns NaN at step 2 in the trial with poison_at 2 and seed 2 only. */
    static final String SWEEP = Experiments.TINY.replace("temperature: 0.5}", "temperature: 0.5, poison_at: -1, poison_seed: 2}")
            + """
            sweep:
              grid: {losses.0.poison_at: [-1, 2]}
              seeds: [1, 2]
              parallel: 2
            """;

    private record Run(Path dir, JsonObject meta, Map<String, Double> metrics, Map<String, String> params) {}

    private int run(Path file, ByteArrayOutputStream out) {
        PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream original = System.out;
        System.setOut(print);
        try {
            return Main.execute(new String[] {"run", file.toString(), "--runs-dir", dir.resolve("runs").toString(),
                    "--device", "cpu"}, print, print);
        } finally {
            System.setOut(original);
        }
    }

    private List<Run> runs() throws IOException {
        List<Run> runs = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(dir.resolve("runs/tiny"))) {
            for (Path runDir : dirs.sorted().toList()) {
                JsonObject meta = JsonParser.parseString(Files.readString(runDir.resolve("run.json"))).getAsJsonObject();
                Map<String, Double> metrics = new HashMap<>();
                Map<String, String> params = new HashMap<>();
                for (String line : Files.readAllLines(runDir.resolve("records.jsonl"))) {
                    JsonObject record = JsonParser.parseString(line).getAsJsonObject();
                    JsonObject data = record.getAsJsonObject("data");
                    switch (record.get("kind").getAsString()) {
                        case "metric" -> metrics.put(data.get("key").getAsString(), data.get("value").getAsDouble());
                        case "params" -> data.entrySet().forEach(e -> params.put(e.getKey(), e.getValue().getAsString()));
                        default -> { }
                    }
                }
                runs.add(new Run(runDir, meta, metrics, params));
            }
        }
        return runs;
    }

    @Test
    void aFailedTrialIsRecordedAndTheOthersAggregateOnTheParent() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = run(Experiments.write(dir, "sweep.yaml", SWEEP), out);
        String printed = out.toString(StandardCharsets.UTF_8);
        assertEquals(Main.FAILURE, code, "one trial failed, so the sweep reports a failure:\n" + printed);
        assertTrue(printed.contains("3 of 4 trials finished, 1 failed"), printed);

        List<Run> runs = runs();
        assertEquals(5, runs.size(), "a parent and four trials");
        Run parent = runs.stream().filter(r -> !r.meta().has("parent_run_id")).findFirst().orElseThrow();
        List<Run> children = runs.stream().filter(r -> r.meta().has("parent_run_id")).toList();
        assertEquals(4, children.size());
        String parentId = parent.meta().get("id").getAsString();
        children.forEach(c -> assertEquals(parentId, c.meta().get("parent_run_id").getAsString()));
        assertEquals("FINISHED", parent.meta().get("status").getAsString());

        List<Run> failed = children.stream().filter(c -> c.meta().get("status").getAsString().equals("FAILED")).toList();
        assertEquals(1, failed.size(), "only poison_at 2 with seed 2 fails");
        assertEquals("2", failed.get(0).params().get("losses.0.poison_at"));
        assertEquals("2", failed.get(0).params().get("seed"));
        assertTrue(failed.get(0).meta().get("message").getAsString().contains("not finite at step 2"),
                failed.get(0).meta().toString());
        assertEquals(3, children.stream().filter(c -> c.meta().get("status").getAsString().equals("FINISHED")).count());

        // The parent's aggregates are the mean and sample std of the finished children's metrics.
        String metric = "eval/mean-cosine/cosine";
        List<Double> clean = children.stream().filter(c -> c.params().get("losses.0.poison_at").equals("-1"))
                .map(c -> c.metrics().get(metric)).toList();
        assertEquals(2, clean.size());
        double mean = (clean.get(0) + clean.get(1)) / 2;
        double std = Math.abs(clean.get(0) - clean.get(1)) / Math.sqrt(2);
        assertEquals(mean, parent.metrics().get("losses.0.poison_at:-1/" + metric + "/mean"), 1e-12);
        assertEquals(std, parent.metrics().get("losses.0.poison_at:-1/" + metric + "/std"), 1e-12);
        assertEquals(2.0, parent.metrics().get("losses.0.poison_at:-1/" + metric + "/n"));
        assertEquals(1.0, parent.metrics().get("losses.0.poison_at:2/" + metric + "/n"), "the failed seed is left out");
        assertEquals(3.0, parent.metrics().get("sweep/trials_finished"));
        assertEquals(1.0, parent.metrics().get("sweep/trials_failed"));
        assertNotBlank(parent.dir().resolve("artifacts/sweep/summary.md"));
        assertEquals(4, Files.list(parent.dir().resolve("artifacts/sweep/logs")).count(), "every trial's log is kept");
        assertEquals("null", children.get(0).params().getOrDefault("sweep", "null"), "a trial is not a sweep again");
    }

    @Test
    void aGridValueThatDoesNotFitStopsTheSweepBeforeAnythingRuns() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String yaml = Experiments.TINY + """
                sweep:
                  grid: {losses.0.temperature: [0.5, -1]}
                """;
        int code = run(Experiments.write(dir, "bad.yaml", yaml), out);
        String printed = out.toString(StandardCharsets.UTF_8);
        assertEquals(Main.BAD_INPUT, code, printed);
        assertTrue(printed.contains("temperature") && printed.contains("sweep trial 2: losses.0.temperature=-1"), printed);
        assertFalse(Files.exists(dir.resolve("runs")), "no run is started");
    }

    @Test
    void aPluginThatThrowsInItsConstructorFailsItsTrialAndTheOthersGoOn() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String yaml = Experiments.TINY + """
                sweep:
                  grid: {losses.0.fail_create: [false, true]}
                """;
        int code = run(Experiments.write(dir, "throwing.yaml", yaml), out);
        String printed = out.toString(StandardCharsets.UTF_8);
        assertEquals(Main.FAILURE, code, printed);
        assertTrue(printed.contains("1 of 2 trials finished, 1 failed"), printed);
        assertTrue(printed.contains("failed to create it"), "the failed trial says why:\n" + printed);
    }

    private static void assertNotBlank(Path file) throws IOException {
        assertTrue(Files.exists(file) && !Files.readString(file).isBlank(), file + " is written");
    }
}
