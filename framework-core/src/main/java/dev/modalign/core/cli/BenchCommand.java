package dev.modalign.core.cli;

import dev.modalign.core.UserError;
import dev.modalign.core.bench.BenchReport;
import dev.modalign.core.bench.PytorchReference;
import dev.modalign.core.plugin.PluginRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code modalign bench}: the framework's training step on standard configurations, beside PyTorch
 * eager on the same models, measured in the same invocation. See {@link BenchReport}.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Time the real training step (Trainer: loader, towers, losses, backward, clipping, AdamW, tracker) on "
                + "benchmark configurations, several runs each, and print medians of steps/s, samples/s, GFLOP/s, peak "
                + "memory and the share of step time spent waiting for data and logging, beside a PyTorch eager reference "
                + "of the same models run in the same invocation (scripts/bench installs it).",
            "Without CONFIG, every experiments/bench/*.yaml."})
final class BenchCommand implements Callable<Integer> {

    @Parameters(paramLabel = "CONFIG", arity = "0..*", description = "Experiment files to benchmark.")
    List<Path> configs = new ArrayList<>();

    @Mixin
    PluginOptions plugins;

    @Option(names = "--runs", paramLabel = "N", description = "Runs per configuration and thread count (default 5); medians are reported.")
    int runs = 5;

    @Option(names = "--warmup", paramLabel = "N", description = "Untimed steps at the start of each run (default 20).")
    int warmup = 20;

    @Option(names = "--steps", paramLabel = "N", description = "Timed steps per run, the same on both sides; default: "
            + "as many as take about --seconds, from an untimed calibration run of modalign's step per configuration "
            + "and thread count.")
    int steps;

    @Option(names = "--jit-warmup", paramLabel = "S", description = "Seconds of untimed steps before a configuration's "
            + "first timed run at each thread count (default 10; 0 for none). The JVM compiles a method after thousands "
            + "of calls: for the first 10 to 15 s of steps its compilers take a tenth of a core from the engine's threads "
            + "(519 and 758 ms of compiling in the first two 4 s runs at batch 256, 82 to 160 ms in the next three, which "
            + "ran 15% faster). Each run prints its compilers' time as JIT.")
    double jitWarmup = 10;

    @Option(names = "--seconds", paramLabel = "S", description = "Time a run's timed steps should take, without --steps "
            + "(default 4; short runs on a shared machine vary by a fifth).")
    double seconds = 4;

    @Option(names = "--threads", paramLabel = "N[,N...]", split = ",",
            description = "PyTorch CPU threads, each measured on both sides (default 1,2).")
    List<Integer> threads = new ArrayList<>(List.of(1, 2));

    @Option(names = "--python", paramLabel = "PYTHON",
            description = "The Python with torch for the reference (default .modalign/bench/venv/bin/python, which "
                    + "scripts/bench installs).")
    Path python;

    @Option(names = "--reference-script", paramLabel = "FILE",
            description = "The reference script (default scripts/reference/pytorch_reference.py of this checkout).")
    Path referenceScript;

    @Option(names = "--no-reference", description = "Measure modalign only.")
    boolean noReference;

    @Option(names = "--device", paramLabel = "DEVICE", description = "cpu (default) or gpu, for both sides.")
    String device = "cpu";

    @Option(names = "--set", paramLabel = "PATH=VALUE", description = "Override a value of every configuration (repeatable).")
    List<String> assignments = new ArrayList<>();

    @Option(names = "--retrieval", paramLabel = "N",
            description = "Also time retrieval evaluation over N x N random embeddings (e.g. 100000), beside the blocked "
                    + "matrix products of the same size; 0 (default) skips it.")
    int retrieval;

    @Option(names = "--retrieval-dim", paramLabel = "D", description = "Embedding size for --retrieval (default 256).")
    int retrievalDim = 256;

    @Option(names = "--only-retrieval", description = "Skip the step benchmarks (with --retrieval).")
    boolean onlyRetrieval;

    @Option(names = "--phases", description = "Also print where a step's time goes (data, forward, loss, backward, "
            + "clipping, optimiser, zeroing, tracking, closing the step's arrays), on both sides.")
    boolean phases;

    @Override
    public Integer call() {
        Path home = Path.of(System.getProperty("modalign.home", "."));
        if (runs < 1 || steps < 0 || !(seconds > 0) || warmup < 0 || !(jitWarmup >= 0) || threads.isEmpty()
                || threads.stream().anyMatch(t -> t < 1)) {
            throw new UserError("--runs must be >= 1, --steps >= 1 (or 0 to calibrate), --seconds > 0, --warmup >= 0,"
                    + " --jit-warmup >= 0 and every --threads >= 1; found runs " + runs + ", steps " + steps + ", seconds "
                    + seconds + ", warmup " + warmup + ", jit-warmup " + jitWarmup + ", threads " + threads);
        }
        if (!device.equals("cpu") && !device.equals("gpu")) {
            throw new UserError("--device must be cpu or gpu, found '" + device + "'");
        }
        PytorchReference reference = noReference ? null : reference(home);
        if (configs.isEmpty()) {
            configs = defaultConfigs(home.resolve("experiments/bench"));
        }
        PluginRegistry registry = plugins.load(System.err);
        BenchReport report = new BenchReport(registry, Cache.directory(), device, reference, System.out)
                .withPhases(phases);
        if (!onlyRetrieval) {
            report.steps(configs, assignments, threads, runs, warmup, steps, seconds, jitWarmup);
        }
        if (retrieval > 0) {
            report.retrieval(configs.get(0), assignments, retrieval, retrievalDim);
        }
        return Main.OK;
    }

    private PytorchReference reference(Path home) {
        Path interpreter = python != null ? python : home.resolve(".modalign/bench/venv/bin/python");
        Path script = referenceScript != null ? referenceScript : home.resolve("scripts/reference/pytorch_reference.py");
        if (!Files.isExecutable(interpreter)) {
            throw new UserError("no Python with torch at " + interpreter + " for the PyTorch reference; run scripts/bench "
                    + "(it installs one), pass --python, or measure modalign alone with --no-reference");
        }
        if (!Files.isRegularFile(script)) {
            throw new UserError("the reference script " + script + " is missing; run from a modalign checkout or pass "
                    + "--reference-script");
        }
        return new PytorchReference(interpreter, script);
    }

    private static List<Path> defaultConfigs(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> found = files.filter(f -> f.getFileName().toString().endsWith(".yaml")).sorted().toList();
            if (found.isEmpty()) {
                throw new UserError(dir + " holds no .yaml configuration; name CONFIG files");
            }
            return found;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }
}
