package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
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

    @Test
    void theQuickstartKilledAtARandomStepAndResumedEndsWithTheUninterruptedMetricsExactly() throws Exception {
        Path straight = dir.resolve("straight");
        long started = System.nanoTime();
        Cli.Result uninterrupted = Cli.run(run(straight.toString()));
        assertEquals(0, uninterrupted.code(), uninterrupted.err());
        double straightSeconds = (System.nanoTime() - started) / 1e9;
        Map<String, Double> expected = RunRecords.finalMetrics(RunRecords.onlyRun(straight, "quickstart"));
        assertTrue(expected.containsKey("eval/retrieval/image_to_text/R_at_1") && expected.containsKey("train/loss")
                && expected.containsKey("train/clip/temperature"), expected.toString());

        Path killed = dir.resolve("killed");
        long killAfter = 5 + new Random().nextInt(22);
        Process child = ChildJvm.start(dir.resolve("child.log"), dir.resolve("cache"), run(killed.toString()));
        Path runDir = RunRecords.killAfterStep(child, dir.resolve("child.log"), killed, "quickstart", killAfter);
        long killedAt = RunRecords.lastLoggedStep(runDir);
        assertEquals("RUNNING", RunRecords.status(runDir), "SIGKILL leaves the run as it was");

        Cli.Result resumed = Cli.run(run(killed.toString(), "--resume", runDir.toString()));
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("run " + runDir.getFileName() + " resumed from step "), resumed.out());
        assertEquals("FINISHED", RunRecords.status(runDir));
        Map<String, Double> actual = RunRecords.finalMetrics(runDir);
        System.out.printf("quickstart (30 steps) killed after step %d, %s; uninterrupted %.1f s; final metrics %s%n",
                killedAt, resumed.out().lines().filter(l -> l.contains("resumed from step")).findFirst().orElse(""),
                straightSeconds, actual);
        assertEquals(expected, actual, "final loss, temperature and retrieval metrics, bit for bit");
        String checkpointLine = resumed.out().lines().filter(l -> l.startsWith("checkpoint ")).findFirst().orElseThrow();
        System.out.println("final " + checkpointLine);
        assertFalse(resumed.err().contains("\tat "), resumed.err());
    }
}
