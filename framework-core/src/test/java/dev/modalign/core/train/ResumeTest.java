package dev.modalign.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.inject.Guice;
import dev.modalign.core.ChildJvm;
import dev.modalign.core.Experiments;
import dev.modalign.core.RunStopped;
import dev.modalign.core.UserError;
import dev.modalign.core.cli.Main;
import dev.modalign.core.compose.RunModule;
import dev.modalign.core.plugin.PluginLoader;
import dev.modalign.core.plugin.PluginRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run stopped or killed part-way and resumed from its checkpoint ends with the same numbers, bit for
 * bit, as the same run uninterrupted: the loss carries state across steps (a running mean), the loader
 * has worker threads, and the stop comes at a random step.
 */
class ResumeTest {

    /** 24 steps of 25 ms or more, a checkpoint every 5, a loss with state. */
    static final String RESUMABLE = Experiments.TINY
            .replace("temperature: 0.5}", "temperature: 0.5, memory: true, delay_ms: 25}")
            .replace("epochs: 3", "epochs: 6")
            .replace("log_every: 1,", "log_every: 1, checkpoint_every: 5,");

    static PluginRegistry registry;
    static RunResult uninterrupted;

    @TempDir
    static Path shared;

    @TempDir
    Path dir;

    @BeforeAll
    static void runUninterrupted() {
        registry = PluginLoader.load(List.of());
        uninterrupted = trainer(shared, RESUMABLE, new ByteArrayOutputStream()).run();
        assertEquals(24, uninterrupted.steps());
    }

    static Trainer trainer(Path dir, String yaml, ByteArrayOutputStream out) {
        Path file = Experiments.write(dir, "experiment.yaml", yaml);
        RunModule module = new RunModule(registry, file, new RunModule.Overrides(null, dir.resolve("runs"), "cpu"), dir,
                new PrintStream(out, true, StandardCharsets.UTF_8));
        return Guice.createInjector(module).getInstance(Trainer.class);
    }

    static List<JsonObject> records(Path runDir) throws IOException {
        List<JsonObject> records = new ArrayList<>();
        for (String line : Files.readAllLines(runDir.resolve("records.jsonl"))) {
            try {
                records.add(JsonParser.parseString(line).getAsJsonObject());
            } catch (RuntimeException torn) {
                break;
            }
        }
        return records;
    }

    /** The steps at which train/loss was logged, with how many times each. */
    static Map<Long, Integer> lossSteps(Path runDir) throws IOException {
        Map<Long, Integer> steps = new TreeMap<>();
        for (JsonObject record : records(runDir)) {
            if (record.get("kind").getAsString().equals("metric")
                    && record.getAsJsonObject("data").get("key").getAsString().equals("train/loss")) {
                steps.merge(record.getAsJsonObject("data").get("step").getAsLong(), 1, Integer::sum);
            }
        }
        return steps;
    }

    static String status(Path runDir) throws IOException {
        return JsonParser.parseString(Files.readString(runDir.resolve("run.json"))).getAsJsonObject().get("status")
                .getAsString();
    }

    /** The only run directory under runs/tiny, once it exists. */
    static Path runDir(Path dir) throws IOException, InterruptedException {
        Path experiment = dir.resolve("runs/tiny");
        for (int i = 0; i < 3000; i++) {
            if (Files.isDirectory(experiment)) {
                try (Stream<Path> runs = Files.list(experiment)) {
                    List<Path> found = runs.toList();
                    if (!found.isEmpty() && Files.exists(found.get(0).resolve("records.jsonl"))) {
                        return found.get(0);
                    }
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no run directory appeared under " + experiment);
    }

    /** Waits until the run has logged the loss of step {@code step}; false when {@code process} ended first. */
    static boolean awaitStep(Path runDir, long step, Process process) throws IOException, InterruptedException {
        for (int i = 0; i < 12_000; i++) {
            if (lossSteps(runDir).keySet().stream().anyMatch(s -> s >= step)) {
                return true;
            }
            if (process != null && !process.isAlive()) {
                return false;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("the run did not reach step " + step);
    }

    static List<Long> checkpointSteps(Path runDir) {
        return Checkpoint.list(runDir.resolve("checkpoints")).stream().map(Checkpoint::stepOf).sorted().toList();
    }

    static void assertSameNumbers(RunResult resumed) {
        assertEquals(uninterrupted.steps(), resumed.steps());
        assertEquals(Double.doubleToLongBits(uninterrupted.finalLoss()), Double.doubleToLongBits(resumed.finalLoss()),
                "final loss " + uninterrupted.finalLoss() + " uninterrupted, " + resumed.finalLoss() + " resumed");
        assertEquals(uninterrupted.metrics(), resumed.metrics(), "evaluation metrics, exactly");
    }

    @Test
    void aRunStoppedAtARandomStepResumesToExactlyTheUninterruptedNumbers() throws Exception {
        long stopAfter = 3 + new Random().nextInt(18);
        Trainer first = trainer(dir, RESUMABLE, new ByteArrayOutputStream());
        Thread stopper = new Thread(() -> {
            try {
                awaitStep(runDir(dir), stopAfter, null);
                first.requestStop("a test");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        stopper.start();
        RunStopped stopped = assertThrows(RunStopped.class, first::run);
        stopper.join();
        Path run = runDir(dir);
        assertEquals("KILLED", status(run));
        assertTrue(stopped.getMessage().contains("--resume " + run.getFileName()), stopped.getMessage());
        long stoppedAt = Long.parseLong(stopped.getMessage().replaceFirst(".*after step (\\d+) .*", "$1"));
        assertTrue(stoppedAt > stopAfter, "stopped at the step boundary after step " + stopAfter + ": " + stoppedAt);
        assertTrue(checkpointSteps(run).contains(stoppedAt), "a checkpoint of the stop: " + checkpointSteps(run));

        RunResult resumed = trainer(dir, RESUMABLE, new ByteArrayOutputStream()).run(run.getFileName().toString());
        assertSameNumbers(resumed);
        assertEquals(run.getFileName().toString(), resumed.runId(), "the same run goes on");
        assertEquals("FINISHED", status(run));
        Map<Long, Integer> steps = lossSteps(run);
        assertEquals(24, steps.size(), "every step's loss is in the run: " + steps);
        assertTrue(steps.values().stream().allMatch(count -> count == 1), "a stop at a step boundary repeats none: " + steps);
        assertTrue(records(run).stream().anyMatch(r -> r.get("kind").getAsString().equals("resume")));
    }

    @Test
    void aRunKilledWithSigkillAtARandomStepResumesToExactlyTheUninterruptedNumbers() throws Exception {
        Path file = Experiments.write(dir, "experiment.yaml", RESUMABLE);
        long killAfter = 6 + new Random().nextInt(16);
        Process child = ChildJvm.start(dir.resolve("child.log"), dir.resolve("cache"), "run", file.toString(), "--runs-dir",
                dir.resolve("runs").toString(), "--device", "cpu", "--plugin-dir", dir.resolve("no-plugins").toString());
        Path run;
        try {
            run = runDir(dir);
            assertTrue(awaitStep(run, killAfter, child), "the child ended before step " + killAfter + ":\n"
                    + Files.readString(dir.resolve("child.log")));
        } finally {
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
        }
        assertEquals("RUNNING", status(run), "SIGKILL leaves no chance to end the run");
        long killedAt = lossSteps(run).keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
        List<Long> checkpoints = checkpointSteps(run);
        assertFalse(checkpoints.isEmpty(), "a checkpoint every 5 steps, killed after step " + killedAt);

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RunResult resumed = trainer(dir, RESUMABLE, out).run(run.toString());
        System.out.printf("SIGKILL after step %d (checkpoints %s); resumed from step %d: final loss %s, metrics %s%n",
                killedAt, checkpoints, checkpoints.get(checkpoints.size() - 1), resumed.finalLoss(), resumed.metrics());
        assertSameNumbers(resumed);
        assertEquals("FINISHED", status(run));
        assertEquals(24, lossSteps(run).size());
    }

    @Test
    void sigtermStopsAtAStepBoundaryWithACheckpointAndTheRunMarkedKilled() throws Exception {
        Path file = Experiments.write(dir, "experiment.yaml", RESUMABLE);
        long stopAfter = 4 + new Random().nextInt(16);
        Process child = ChildJvm.start(dir.resolve("child.log"), dir.resolve("cache"), "run", file.toString(), "--runs-dir",
                dir.resolve("runs").toString(), "--device", "cpu", "--plugin-dir", dir.resolve("no-plugins").toString());
        Path run = runDir(dir);
        assertTrue(awaitStep(run, stopAfter, child), Files.readString(dir.resolve("child.log")));
        child.destroy(); // SIGTERM
        assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the run stops within a step");
        String log = Files.readString(dir.resolve("child.log"));
        assertEquals(143, child.exitValue(), log);
        assertTrue(log.contains("stopped: stopped by SIGTERM after step"), log);
        assertFalse(log.contains("\tat "), "no stack trace: " + log);
        long stoppedAt = Long.parseLong(log.replaceFirst("(?s).*after step (\\d+) of.*", "$1"));
        assertEquals("KILLED", status(run));
        JsonObject end = records(run).get(records(run).size() - 1);
        assertEquals("end", end.get("kind").getAsString());
        assertTrue(end.getAsJsonObject("data").get("message").getAsString().contains("SIGTERM"), end.toString());
        assertTrue(checkpointSteps(run).contains(stoppedAt), checkpointSteps(run) + " should hold " + stoppedAt);

        // `modalign run FILE --resume` with no value: the experiment's run with the latest checkpoint.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(new String[] {"run", file.toString(), "--runs-dir", dir.resolve("runs").toString(),
            "--device", "cpu", "--resume", "--plugin-dir", dir.resolve("no-plugins").toString()},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        assertEquals("FINISHED", status(run));
        Map<String, Double> last = new TreeMap<>();
        for (JsonObject record : records(run)) {
            if (record.get("kind").getAsString().equals("metric")) {
                last.put(record.getAsJsonObject("data").get("key").getAsString(),
                        record.getAsJsonObject("data").get("value").getAsDouble());
            }
        }
        assertEquals(uninterrupted.metrics().get("eval/mean-cosine/cosine"), last.get("eval/mean-cosine/cosine"));
        assertEquals(uninterrupted.finalLoss(), last.get("train/loss"));
        Map<Long, Integer> steps = lossSteps(run);
        assertEquals(24, steps.size());
        assertTrue(steps.values().stream().allMatch(count -> count == 1), steps.toString());
    }

    @Test
    void aDamagedNewestCheckpointIsSkippedWithAWarningForTheOneBefore() throws Exception {
        Trainer first = trainer(dir, RESUMABLE, new ByteArrayOutputStream());
        Thread stopper = new Thread(() -> {
            try {
                awaitStep(runDir(dir), 12, null);
                first.requestStop("a test");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        stopper.start();
        assertThrows(RunStopped.class, first::run);
        stopper.join();
        Path run = runDir(dir);
        List<Long> checkpoints = checkpointSteps(run);
        assertTrue(checkpoints.size() >= 2, checkpoints.toString());
        long newest = checkpoints.get(checkpoints.size() - 1);
        Path damaged = run.resolve("checkpoints/step-" + newest + "/tower-a.params");
        try (RandomAccessFile file = new RandomAccessFile(damaged.toFile(), "rw")) {
            file.seek(file.length() / 2);
            int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x01);
        }
        // A write cut short by a kill: a temporary directory without a manifest, which loading ignores.
        Files.writeString(Files.createDirectories(run.resolve("checkpoints/.step-99.partial-1")).resolve("tower-a.params"), "x");

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RunResult resumed = trainer(dir, RESUMABLE, out).run(run.getFileName().toString());
        String printed = out.toString(StandardCharsets.UTF_8);
        assertTrue(printed.contains("warning: checkpoint " + run.resolve("checkpoints/step-" + newest)
                + " cannot be loaded (" + damaged + " does not match its SHA-256"), printed);
        assertTrue(printed.contains("resumed from step " + checkpoints.get(checkpoints.size() - 2)), printed);
        assertSameNumbers(resumed);
        assertFalse(Files.exists(run.resolve("checkpoints/.step-99.partial-1")), "leftovers of cut writes are removed");
    }

    @Test
    void resumingWithAnotherConfigurationIsRefusedNamingTheDifference() throws Exception {
        Trainer first = trainer(dir, RESUMABLE, new ByteArrayOutputStream());
        Thread stopper = new Thread(() -> {
            try {
                awaitStep(runDir(dir), 6, null);
                first.requestStop("a test");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        stopper.start();
        assertThrows(RunStopped.class, first::run);
        stopper.join();
        Path run = runDir(dir);
        UserError refused = assertThrows(UserError.class, () -> trainer(dir, RESUMABLE.replace("lr: 0.05", "lr: 0.01"),
                new ByteArrayOutputStream()).run(run.getFileName().toString()));
        assertTrue(refused.getMessage().contains("train.optimizer.lr: 0.05 -> 0.01"), refused.getMessage());
        assertEquals("KILLED", status(run), "a refused resume leaves the run as it was");
        UserError unknown = assertThrows(UserError.class, () -> trainer(dir, RESUMABLE, new ByteArrayOutputStream())
                .run("20990101-000000-abcdef"));
        assertTrue(unknown.getMessage().contains("no checkpoints of a run with this id"), unknown.getMessage());
        // Loader threads and logging may change: they do not change the numbers.
        RunResult resumed = trainer(dir, RESUMABLE.replace("workers: 2", "workers: 1"), new ByteArrayOutputStream())
                .run(run.getFileName().toString());
        assertSameNumbers(resumed);
    }
}
