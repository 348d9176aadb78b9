package dev.modalign.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.core.RunStopped;
import dev.modalign.core.plugin.PluginLoader;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run with a momentum tower, stopped at a random step and resumed, ends with the uninterrupted run's numbers bit
 * for bit: the momentum copy's weights come back from the checkpoint (not from its tower's), and go on following
 * the update rule from there.
 */
class MomentumResumeTest {

    static final String RESUMABLE = TrainerTest.withMomentumTower(0.8)
            .replace("temperature: 0.5}", "temperature: 0.5, delay_ms: 25}")
            .replace("epochs: 3", "epochs: 6")
            .replace("log_every: 1,", "log_every: 1, checkpoint_every: 5,");

    @TempDir
    Path straight;

    @TempDir
    Path dir;

    @Test
    void aRunWithAMomentumTowerStoppedAtARandomStepResumesToExactlyTheUninterruptedNumbers() throws Exception {
        ResumeTest.registry = PluginLoader.load(List.of());
        assertTrue(RESUMABLE.contains("momentum_of: a") && RESUMABLE.contains("checkpoint_every: 5"), RESUMABLE);
        RunResult uninterrupted = ResumeTest.trainer(straight, RESUMABLE, new ByteArrayOutputStream()).run();
        assertEquals(24, uninterrupted.steps());

        long stopAfter = 3 + new Random().nextInt(18);
        Trainer first = ResumeTest.trainer(dir, RESUMABLE, new ByteArrayOutputStream());
        Thread stopper = new Thread(() -> {
            try {
                ResumeTest.awaitStep(ResumeTest.runDir(dir), stopAfter, null);
                first.requestStop("a test");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        stopper.start();
        assertThrows(RunStopped.class, first::run);
        stopper.join();
        Path run = ResumeTest.runDir(dir);
        assertTrue(ResumeTest.checkpointSteps(run).stream().anyMatch(s -> s > stopAfter), ResumeTest.checkpointSteps(run)
                .toString());

        RunResult resumed = ResumeTest.trainer(dir, RESUMABLE, new ByteArrayOutputStream()).run(run.getFileName().toString());
        assertEquals(uninterrupted.steps(), resumed.steps());
        assertEquals(Double.doubleToLongBits(uninterrupted.finalLoss()), Double.doubleToLongBits(resumed.finalLoss()),
                "final loss " + uninterrupted.finalLoss() + " uninterrupted, " + resumed.finalLoss() + " resumed after step "
                        + stopAfter);
        assertEquals(uninterrupted.metrics(), resumed.metrics(), "evaluation metrics of a and of a_m, exactly");
        Path straightArtifacts = Path.of(uninterrupted.location()).resolve("artifacts/checkpoint/a_m.params");
        Path resumedArtifacts = Path.of(resumed.location()).resolve("artifacts/checkpoint/a_m.params");
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(straightArtifacts), Files.readAllBytes(resumedArtifacts)),
                "the momentum tower's final weights, bit for bit");
    }
}
