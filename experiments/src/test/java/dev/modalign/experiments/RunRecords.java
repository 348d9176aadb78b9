package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Reads a run of the local store back as the end-to-end tests check it: its records, final metrics, status. */
final class RunRecords {

    private RunRecords() {}

    /**
     * Waits until {@code child} has logged step {@code step} of {@code experiment} under {@code runs}, then kills
     * it (SIGKILL, no chance to save anything) and returns the run's directory; fails if the child ends first
     * (with its log {@code log}) or takes more than 5 minutes.
     */
    static Path killAfterStep(Process child, Path log, Path runs, String experiment, long step)
            throws IOException, InterruptedException {
        try {
            long deadline = System.currentTimeMillis() + 300_000;
            while (!Files.isDirectory(runs.resolve(experiment)) || lastLoggedStep(onlyRun(runs, experiment)) < step) {
                assertTrue(child.isAlive(), "the child ended before step " + step + ":\n" + Files.readString(log));
                assertTrue(System.currentTimeMillis() < deadline, "no step " + step + " in 5 minutes");
                Thread.sleep(20);
            }
        } finally {
            child.destroyForcibly();
            child.waitFor(60, TimeUnit.SECONDS);
        }
        return onlyRun(runs, experiment);
    }

    /** The one run of {@code experiment} under the runs directory {@code runs}. */
    static Path onlyRun(Path runs, String experiment) throws IOException {
        try (Stream<Path> found = Files.list(runs.resolve(experiment))) {
            return found.findFirst().orElseThrow();
        }
    }

    /** The run's records so far; a line torn by a kill ends them. */
    static List<JsonObject> records(Path run) throws IOException {
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
    static Map<String, Double> finalMetrics(Path run) throws IOException {
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

    /** The last step whose train/loss is recorded, or -1. */
    static long lastLoggedStep(Path run) throws IOException {
        return records(run).stream().filter(r -> r.get("kind").getAsString().equals("metric")
                && r.getAsJsonObject("data").get("key").getAsString().equals("train/loss"))
                .mapToLong(r -> r.getAsJsonObject("data").get("step").getAsLong()).max().orElse(-1);
    }

    static String status(Path run) throws IOException {
        return JsonParser.parseString(Files.readString(run.resolve("run.json"))).getAsJsonObject().get("status").getAsString();
    }
}
