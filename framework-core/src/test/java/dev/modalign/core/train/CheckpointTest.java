package dev.modalign.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.core.ChildJvm;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint directories: atomic writes, verified loads, pruning, and a writer killed at random moments. */
class CheckpointTest {

    @TempDir
    Path dir;

    static Checkpoint.Manifest manifest(long step) {
        return new Checkpoint.Manifest(Checkpoint.FORMAT, "run-1", "exp", step, 0, step, 100, 0.5, 0, 0, "test",
                Map.of("seed", "1"), Map.of(), null);
    }

    /** Writes a checkpoint of {@code step} with two files of the given sizes, filled from (step, file) seeds. */
    static Checkpoint write(Path root, long step, int... sizes) throws IOException {
        try (Checkpoint.Writer writer = new Checkpoint.Writer(root, step)) {
            for (int i = 0; i < sizes.length; i++) {
                byte[] bytes = new byte[sizes[i]];
                new Random(step * 31 + i).nextBytes(bytes);
                writer.file("part-" + i + ".bin", out -> out.write(bytes));
            }
            return writer.commit(manifest(step));
        }
    }

    @Test
    void aCheckpointReadsBackWhatWasWrittenWithItsManifest() throws IOException {
        Checkpoint written = write(dir, 7, 1000, 20);
        assertEquals(dir.resolve("step-7"), written.dir());
        Checkpoint read = Checkpoint.open(dir.resolve("step-7"));
        assertEquals(7, read.manifest().step());
        assertEquals("run-1", read.manifest().runId());
        assertEquals(0.5, read.manifest().lastLoss());
        assertEquals(1000, read.manifest().files().get("part-0.bin").bytes());
        byte[] expected = new byte[20];
        new Random(7 * 31 + 1).nextBytes(expected);
        try (DataInputStream in = read.read("part-1.bin")) {
            assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(in.readAllBytes()));
        }
        try (var entries = Files.list(dir)) {
            assertEquals(List.of(dir.resolve("step-7")), entries.toList(), "nothing but the checkpoint is left");
        }
    }

    @Test
    void aDamagedOrIncompleteCheckpointIsRefusedAndTheNewestGoodOneIsUsed() throws IOException {
        write(dir, 1, 100);
        write(dir, 2, 100);
        write(dir, 3, 100);
        Files.write(dir.resolve("step-3/part-0.bin"), new byte[100]);
        Files.delete(dir.resolve("step-2/" + Checkpoint.MANIFEST));
        assertThrows(Checkpoint.CorruptCheckpointException.class, () -> Checkpoint.open(dir.resolve("step-3")));
        List<String> warnings = new ArrayList<>();
        Checkpoint latest = Checkpoint.latest(dir, warnings::add).orElseThrow();
        assertEquals(1, latest.manifest().step());
        assertEquals(2, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("does not match its SHA-256"), warnings.get(0));
        assertTrue(warnings.get(1).contains("has no manifest.json (its write did not finish)"), warnings.get(1));
        assertFalse(Files.exists(dir.resolve("step-3")), "a checkpoint that does not load is removed");
    }

    @Test
    void aWriteThatNeverCommitsLeavesNoCheckpointAndPruningKeepsTheNewest() throws IOException {
        write(dir, 10, 10);
        Checkpoint.Writer abandoned = new Checkpoint.Writer(dir, 20);
        abandoned.file("part-0.bin", out -> out.write(new byte[10]));
        // Not committed, not closed: as a process killed mid-write leaves it.
        assertEquals(List.of(dir.resolve("step-10")), Checkpoint.list(dir));
        assertEquals(10, Checkpoint.latest(dir, w -> { }).orElseThrow().manifest().step());
        write(dir, 30, 10);
        write(dir, 40, 10);
        Checkpoint.prune(dir, 2);
        try (var entries = Files.list(dir)) {
            assertEquals(List.of("step-30", "step-40"), entries.map(p -> p.getFileName().toString()).sorted().toList());
        }
        Checkpoint again = write(dir, 40, 5);
        assertEquals(5, Checkpoint.open(again.dir()).manifest().files().get("part-0.bin").bytes(), "a step written again"
                + " replaces the old checkpoint");
    }

    /** Writes checkpoints 1, 2, 3, ... of a few MB each into args[0] until killed. */
    public static void main(String[] args) throws IOException {
        Path root = Path.of(args[0]);
        for (long step = 1; ; step++) {
            write(root, step, 3_000_000, 1_000_000 + (int) (step % 7) * 100_000);
            Checkpoint.prune(root, 2);
        }
    }

    @Test
    void aWriterKilledAtRandomMomentsNeverLeavesACheckpointThatFailsToLoad() throws Exception {
        Random random = new Random();
        Path root = dir.resolve("checkpoints");
        int kills = Integer.getInteger("kills", 4);
        long lastStep = 0;
        for (int i = 0; i < kills; i++) {
            Process writer = ChildJvm.startMain(CheckpointTest.class.getName(), dir.resolve("writer.log"), dir, root.toString());
            // A loaded machine can take seconds to start a JVM: kill at a random moment once the writer is writing.
            long deadline = System.currentTimeMillis() + 120_000;
            while (writer.isAlive() && (!Files.isDirectory(root) || Checkpoint.list(root).isEmpty())
                    && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            Thread.sleep(random.nextInt(800));
            writer.destroyForcibly();
            assertTrue(writer.waitFor(30, TimeUnit.SECONDS));
            for (Path checkpoint : Checkpoint.list(root)) {
                Checkpoint.open(checkpoint); // throws when it does not load
            }
            Checkpoint latest = Checkpoint.latest(root, w -> {
                throw new AssertionError(w);
            }).orElseThrow(() -> new AssertionError("no checkpoint survived; see " + dir.resolve("writer.log")));
            lastStep = latest.manifest().step();
        }
        assertTrue(lastStep > 0);
    }
}
