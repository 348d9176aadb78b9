package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quickstart (CLIP with a learnable temperature, a CNN and a transformer tower, augmentations,
 * two loader threads), made small: killed with SIGKILL at a random step in a separate JVM and resumed
 * with {@code modalign run FILE --resume}, it ends with exactly the final loss and retrieval metrics of
 * the same run uninterrupted.
 */
class ResumeEndToEndTest {

    @TempDir
    Path dir;

    /** 30 steps (3 epochs of 10 batches of 64), a checkpoint every 4 steps, every step logged. */
    private String[] run(String runsDir, String... more) {
        List<String> args = new ArrayList<>(List.of("run", Cli.repo().resolve("experiments/quickstart.yaml").toString(),
                "--device", "cpu", "--runs-dir", runsDir, "--plugin-dir", dir.resolve("no-plugins").toString(),
                "--set", "data.train.size=640", "--set", "train.batch_size=64", "--set", "train.epochs=3",
                "--set", "data.eval.size=128", "--set", "train.log_every=1", "--set", "train.checkpoint_every=4"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    private static Path onlyRun(Path runs) throws IOException {
        try (Stream<Path> found = Files.list(runs.resolve("quickstart"))) {
            return found.findFirst().orElseThrow();
        }
    }

    private static List<JsonObject> records(Path run) throws IOException {
        List<JsonObject> records = new ArrayList<>();
        if (!Files.exists(run.resolve("records.jsonl"))) {
            return records; // the run's directory exists a moment before its records do
        }
        for (String line : Files.readAllLines(run.resolve("records.jsonl"))) {
            try {
                records.add(JsonParser.parseString(line).getAsJsonObject());
            } catch (RuntimeException torn) {
                break;
            }
        }
        return records;
    }

    /** The last value of every metric but the timing ones, which differ between any two runs. */
    private static Map<String, Double> finalMetrics(Path run) throws IOException {
        Map<String, Double> last = new TreeMap<>();
        for (JsonObject record : records(run)) {
            if (record.get("kind").getAsString().equals("metric")) {
                String key = record.getAsJsonObject("data").get("key").getAsString();
                if (!key.endsWith("per_sec") && !key.endsWith("_share")) {
                    last.put(key, record.getAsJsonObject("data").get("value").getAsDouble());
                }
            }
        }
        return last;
    }

    private static long lastLoggedStep(Path run) throws IOException {
        return records(run).stream().filter(r -> r.get("kind").getAsString().equals("metric")
                && r.getAsJsonObject("data").get("key").getAsString().equals("train/loss"))
                .mapToLong(r -> r.getAsJsonObject("data").get("step").getAsLong()).max().orElse(-1);
    }

    private static String status(Path run) throws IOException {
        return JsonParser.parseString(Files.readString(run.resolve("run.json"))).getAsJsonObject().get("status").getAsString();
    }

    @Test
    void theQuickstartKilledAtARandomStepAndResumedEndsWithTheUninterruptedMetricsExactly() throws Exception {
        Path straight = dir.resolve("straight");
        long started = System.nanoTime();
        Cli.Result uninterrupted = Cli.run(run(straight.toString()));
        assertEquals(0, uninterrupted.code(), uninterrupted.err());
        double straightSeconds = (System.nanoTime() - started) / 1e9;
        Map<String, Double> expected = finalMetrics(onlyRun(straight));
        assertTrue(expected.containsKey("eval/retrieval/image_to_text/R_at_1") && expected.containsKey("train/loss")
                && expected.containsKey("train/clip/temperature"), expected.toString());

        Path killed = dir.resolve("killed");
        long killAfter = 5 + new Random().nextInt(22);
        Process child = ChildJvm.start(dir.resolve("child.log"), dir.resolve("cache"), run(killed.toString()));
        Path runDir;
        try {
            long deadline = System.currentTimeMillis() + 300_000;
            while (!Files.isDirectory(killed.resolve("quickstart")) || lastLoggedStep(onlyRun(killed)) < killAfter) {
                assertTrue(child.isAlive(), "the child ended before step " + killAfter + ":\n"
                        + Files.readString(dir.resolve("child.log")));
                assertTrue(System.currentTimeMillis() < deadline, "no step " + killAfter + " in 5 minutes");
                Thread.sleep(20);
            }
        } finally {
            child.destroyForcibly();
            child.waitFor(60, TimeUnit.SECONDS);
        }
        runDir = onlyRun(killed);
        long killedAt = lastLoggedStep(runDir);
        assertEquals("RUNNING", status(runDir), "SIGKILL leaves the run as it was");

        Cli.Result resumed = Cli.run(run(killed.toString(), "--resume", runDir.toString()));
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("run " + runDir.getFileName() + " resumed from step "), resumed.out());
        assertEquals("FINISHED", status(runDir));
        Map<String, Double> actual = finalMetrics(runDir);
        System.out.printf("quickstart (30 steps) killed after step %d, %s; uninterrupted %.1f s; final metrics %s%n",
                killedAt, resumed.out().lines().filter(l -> l.contains("resumed from step")).findFirst().orElse(""),
                straightSeconds, actual);
        assertEquals(expected, actual, "final loss, temperature and retrieval metrics, bit for bit");
        String checkpointLine = resumed.out().lines().filter(l -> l.startsWith("checkpoint ")).findFirst().orElseThrow();
        System.out.println("final " + checkpointLine);
        assertFalse(resumed.err().contains("\tat "), resumed.err());
    }
}
