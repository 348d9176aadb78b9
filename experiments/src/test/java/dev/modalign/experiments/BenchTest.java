package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code modalign bench} on a shipped configuration, with a stand-in for the PyTorch reference. */
class BenchTest {

    @TempDir
    Path dir;

    private static final Pattern ROW = Pattern.compile(
            "\\| mlp-clip-b32 \\(batch 32\\) \\| 1 \\| ([0-9.]+) \\| ([0-9.]+) \\| ([0-9.]+)x \\| ([0-9.]+)x \\| ([0-9]+) "
                    + "\\| ([0-9.]+) / ([0-9.]+) \\| [0-9.]+ MiB / 64 MiB \\| ([0-9.]+)% \\| ([0-9.]+)% \\|");

    /**
     * A "Python" that prints what the reference prints, so the plumbing is checked without torch: the
     * model card it is given, the medians, the ratio and the GFLOP/s computed from its FLOP count.
     */
    @Test
    void theRealStepIsTimedAndSetBesideTheReference() throws IOException {
        Path cards = dir.resolve("cards.txt");
        Path python = standInPython("cat \"$3\" >> " + cards + "\necho 'torch would say something here'");

        Cli.Result result = Cli.run("bench", Cli.repo().resolve("experiments/bench/mlp-clip-b32.yaml").toString(),
                "--python", python.toString(), "--reference-script",
                Cli.repo().resolve("scripts/reference/pytorch_reference.py").toString(), "--runs", "2", "--warmup", "2", "--steps", "5", "--threads", "1", "--jit-warmup", "0");
        assertEquals(0, result.code(), result.err());
        Matcher row = ROW.matcher(result.out());
        assertTrue(row.find(), result.out());
        double ours = Double.parseDouble(row.group(1));
        assertTrue(ours > 0, result.out());
        assertEquals(50.0, Double.parseDouble(row.group(2)));
        assertEquals(ours / 50.0, Double.parseDouble(row.group(3)), 0.006);
        // The reference says 50 in both runs, so the median of the two pairs' ratios is the mean of modalign's two
        // runs (the median of two) over 50: the medians' ratio.
        assertEquals(ours / 50.0, Double.parseDouble(row.group(4)), 0.006, "paired ratio");
        assertEquals(Math.round(ours * 32), Long.parseLong(row.group(5)), 0.01 * ours * 32 + 1);
        assertEquals(ours * 2.0, Double.parseDouble(row.group(6)), 0.06, "GFLOP/s = FLOPs per step x steps/s");
        assertEquals(100.0, Double.parseDouble(row.group(7)), 1e-9);
        assertTrue(Double.parseDouble(row.group(8)) < 100 && Double.parseDouble(row.group(9)) < 100, result.out());
        assertTrue(result.out().contains("GEMM 2048^3 at 1 thread: PyTorch stand-in 100.0 GFLOP/s"), result.out());

        // The card the reference builds its models from: the composed towers, their input shapes and losses.
        String card = Files.readString(cards);
        for (String expected : new String[] {"kind: vector", "size: 3072", "size: 768", "type: mlp", "embed_dim: 256",
                "type: clip", "batch_size: 32", "weight_decay: 0.1", "grad_clip: 1.0"}) {
            assertTrue(card.contains(expected), "card lacks '" + expected + "':\n" + card);
        }
    }

    /**
     * Without --steps, an untimed calibration run picks the step count from modalign's rate, as many steps as take
     * about --seconds, and the reference runs the same number; an untimed JIT warm-up run of about --jit-warmup
     * seconds at that rate comes before the timed runs, and each run says how long the compilers ran in it.
     */
    @Test
    void withoutAStepCountBothSidesRunTheCalibratedNumber() throws IOException {
        Path arguments = dir.resolve("arguments.txt");
        Path python = standInPython("echo \"$@\" >> " + arguments);

        Cli.Result result = Cli.run("bench", Cli.repo().resolve("experiments/bench/mlp-clip-b32.yaml").toString(),
                "--python", python.toString(), "--reference-script",
                Cli.repo().resolve("scripts/reference/pytorch_reference.py").toString(), "--runs", "1", "--warmup", "2",
                "--seconds", "0.5", "--threads", "1", "--jit-warmup", "0.75");
        assertEquals(0, result.code(), result.err());
        Matcher calibration = Pattern.compile("calibration: modalign ([0-9.]+) steps/s untimed; ([0-9]+) timed steps a run")
                .matcher(result.out());
        assertTrue(calibration.find(), result.out());
        double rate = Double.parseDouble(calibration.group(1));
        int steps = Integer.parseInt(calibration.group(2));
        assertEquals(Math.max(20, Math.min(5000, Math.round(rate * 0.5))), steps, 1, result.out());
        assertTrue(Pattern.compile("--steps " + steps + "( |$)", Pattern.MULTILINE).matcher(Files.readString(arguments))
                .find(), Files.readString(arguments));
        Matcher warmUp = Pattern.compile("JIT warm-up: ([0-9]+) untimed steps .*, the compilers ran [0-9]+ ms of it")
                .matcher(result.out());
        assertTrue(warmUp.find(), result.out());
        assertEquals(Math.max(20, Math.min(5000, Math.round(rate * 0.75))), Integer.parseInt(warmUp.group(1)), 1, result.out());
        assertTrue(Pattern.compile("run 1: modalign [0-9.]+ steps/s \\(.*JIT [0-9]+ ms").matcher(result.out()).find(),
                result.out());
    }

    /** A "Python" that runs {@code first} (shell) and prints the reference's result line: 50 steps/s, 2 GFLOP a step. */
    private Path standInPython(String first) throws IOException {
        Path python = dir.resolve("python");
        Files.writeString(python, "#!/bin/sh\n" + first + "\n"
                + "echo '{\"steps_per_sec\": 50.0, \"flops_per_step\": 2e+09, \"peak_rss_bytes\": 67108864, "
                + "\"gemm_gflops\": 100.0, \"torch\": \"stand-in\"}'\n");
        Files.setPosixFilePermissions(python, PosixFilePermissions.fromString("rwx------"));
        return python;
    }

    @Test
    void retrievalIsTimedBesideItsProducts() {
        Cli.Result result = Cli.run("bench", Cli.repo().resolve("experiments/bench/mlp-clip-b32.yaml").toString(),
                "--no-reference", "--only-retrieval", "--retrieval", "3000", "--retrieval-dim", "64");
        assertEquals(0, result.code(), result.err());
        assertTrue(result.out().matches("(?s).*retrieval: 3000 x 3000 random embeddings of size 64, both directions, "
                + "blocks of 1024 queries.*"), result.out());
        assertTrue(result.out().matches("(?s).*retrieval evaluator \\(both directions\\): [0-9.]+ s, peak RSS .*"
                + "the N x N product alone, one direction: [0-9.]+ s .*evaluator / one product: [0-9.]+x.*"
                + "the products alone, each direction on its own: [0-9.]+ s .*evaluator / both products: [0-9.]+x.*"),
                result.out());
        // Random embeddings: R@1 near chance, 1/3000.
        Matcher recall = Pattern.compile("image_to_text/R_at_1 = ([0-9.]+) \\(chance ([0-9.]+)\\)").matcher(result.out());
        assertTrue(recall.find(), result.out());
        assertEquals(1.0 / 3000, Double.parseDouble(recall.group(2)), 1e-6);
        assertTrue(Double.parseDouble(recall.group(1)) < 0.01, result.out());
    }

    @Test
    void withoutAPythonTheBenchSaysHowToGetOne() {
        Cli.Result result = Cli.run("bench", "--python", dir.resolve("none").toString());
        assertEquals(2, result.code());
        assertTrue(result.err().contains("run scripts/bench"), result.err());
        assertTrue(result.err().contains("--no-reference"), result.err());
    }
}
