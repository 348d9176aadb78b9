package dev.modalign.core.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.modalign.core.compose.RunComposer;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.plugin.PluginRegistry;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the benchmark and prints it: for each configuration and thread count, {@code runs} runs of the
 * framework's step and of the PyTorch reference, alternating which goes first so that a drift in the
 * machine's load falls on both, then the medians and their ratio; finally a table of everything. With
 * no step count given, an untimed calibration run of the framework's step first picks one per
 * configuration and thread count, as many steps as take about a given time (short runs on a shared
 * machine vary by a fifth from one to the next). An untimed warm-up run of some seconds then lets the
 * JVM's compilers finish, which the reference does not need: they compile a method after thousands of
 * calls, tens of seconds of steps, and meanwhile take a core's share from the engine's threads.
 *
 * <p>GFLOP/s are the FLOPs of one step (forward and backward, counted on the reference's identical
 * model by torch.utils.flop_counter: matrix products, convolutions and attention, not element-wise
 * work) times steps/s. Peak memory is the process's peak resident size during a run: the JVM's heap
 * counts on the modalign side and the Python interpreter with torch on the other.
 */
public final class BenchReport {

    private final PluginRegistry registry;
    private final Path cacheDir;
    private final String device;
    private final PytorchReference reference;
    private final PrintStream out;
    private final List<Row> rows = new ArrayList<>();
    private boolean phases;

    /** One line of the final table. */
    record Row(String config, int threads, int batchSize, Samples modalign, Samples pytorch, Samples pairedRatio,
            double flopsPerStep, Samples samplesPerSecond, Samples dataShare, Samples trackingShare, Samples peak,
            Samples pytorchPeak) {}

    public BenchReport(PluginRegistry registry, Path cacheDir, String device, PytorchReference reference, PrintStream out) {
        this.registry = registry;
        this.cacheDir = cacheDir;
        this.device = device;
        this.reference = reference;
        this.out = out;
    }

    /**
     * Also prints where a step's time goes, phase by phase ({@link dev.modalign.core.train.StepListener.Phase}),
     * beside the reference's own phases; the reference times those in extra steps after its timed ones.
     */
    public BenchReport withPhases(boolean phases) {
        this.phases = phases;
        return this;
    }

    /** The fewest and most timed steps a calibrated run takes. */
    static final int MIN_STEPS = 20;
    static final int MAX_STEPS = 5000;
    /** Timed steps of the calibration run. */
    private static final int CALIBRATION_STEPS = 20;

    /**
     * The step benchmark of every configuration at every thread count; {@code steps} 0: as many timed steps as
     * take about {@code seconds} at the rate of an untimed calibration run (between {@value #MIN_STEPS} and
     * {@value #MAX_STEPS}), the same number on both sides. {@code jitSeconds} > 0: an untimed run of about that
     * long first, at the calibration run's rate.
     */
    public void steps(List<Path> configs, List<String> assignments, List<Integer> threadCounts, int runs, int warmup,
            int steps, double seconds, double jitSeconds) {
        if (steps < 0 || (steps == 0 && !(seconds > 0))) {
            throw new IllegalArgumentException("steps must be > 0, or 0 with seconds > 0; found " + steps + " and " + seconds);
        }
        StepBenchmark bench = new StepBenchmark(registry, cacheDir, device);
        out.printf("modalign bench: %d configurations x threads %s, %d runs of %d warm-up + %s timed steps each; %s%n",
                configs.size(), threadCounts, runs, warmup,
                steps > 0 ? String.valueOf(steps) : String.format("about %.3g s of", seconds),
                reference == null ? "no PyTorch reference" : "PyTorch eager reference " + reference.python());
        out.printf("machine: %d cores, load average %s; engine %s %s; %s; JVM %s, collectors %s%n",
                Runtime.getRuntime().availableProcessors(), loadAverage(), Engine.getInstance().getEngineName(),
                Engine.getInstance().getVersion(), openMpSettings(), System.getProperty("java.vm.version"),
                java.lang.management.ManagementFactory.getGarbageCollectorMXBeans().stream()
                        .map(java.lang.management.GarbageCollectorMXBean::getName).toList());
        Map<Integer, Double> referenceGemm = new LinkedHashMap<>();
        for (int threads : threadCounts) {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(threads);
            try (NDManager manager = NDManager.newBaseManager(device())) {
                out.printf("GEMM 2048^3 at %d thread%s: modalign (DJL) %.1f GFLOP/s%n", threads, threads == 1 ? "" : "s",
                        Gemm.gflops(manager, 2048, 5));
            }
        }
        for (Path config : configs) {
            String name = config.getFileName().toString().replaceFirst("\\.yaml$", "");
            RunPlan plan = new RunComposer(registry, cacheDir).compose(config, assignments);
            int batchSize = plan.spec().train().batchSize();
            Path card = reference == null ? null : PytorchReference.writeCard(plan);
            try {
                for (int threads : threadCounts) {
                    out.printf("%n%s (batch %d), %d thread%s%n", name, batchSize, threads, threads == 1 ? "" : "s");
                    int timed = steps;
                    if (timed == 0 || jitSeconds > 0) {
                        double rate = bench.run(config, assignments, threads, warmup, CALIBRATION_STEPS).stepsPerSecond();
                        if (timed == 0) {
                            timed = calibratedSteps(rate, seconds);
                            out.printf("  calibration: modalign %.2f steps/s untimed; %d timed steps a run (about %.1f s)%n",
                                    rate, timed, timed / rate);
                        }
                        if (jitSeconds > 0) {
                            int jitSteps = calibratedSteps(rate, jitSeconds);
                            StepBenchmark.Measurement warm = bench.run(config, assignments, threads, 0, jitSteps);
                            out.printf("  JIT warm-up: %d untimed steps (%.1f s, %.2f steps/s), the compilers ran %s of it%n",
                                    jitSteps, jitSteps / warm.stepsPerSecond(), warm.stepsPerSecond(), compiling(warm));
                        }
                    }
                    List<StepBenchmark.Measurement> ours = new ArrayList<>();
                    List<PytorchReference.Measurement> theirs = new ArrayList<>();
                    for (int run = 0; run < runs; run++) {
                        boolean gemm = !referenceGemm.containsKey(threads);
                        PytorchReference.Measurement before = run % 2 == 1 && card != null
                                ? reference.run(card, threads, warmup, timed, gemm, phases) : null;
                        StepBenchmark.Measurement mine = bench.run(config, assignments, threads, warmup, timed);
                        PytorchReference.Measurement other = before != null ? before
                                : card != null ? reference.run(card, threads, warmup, timed, gemm, phases) : null;
                        ours.add(mine);
                        if (other != null) {
                            theirs.add(other);
                            if (gemm && !Double.isNaN(other.gemmGflops())) {
                                referenceGemm.put(threads, other.gemmGflops());
                                out.printf("  GEMM 2048^3 at %d thread%s: PyTorch %s %.1f GFLOP/s%n", threads,
                                        threads == 1 ? "" : "s", other.torchVersion(), other.gemmGflops());
                            }
                        }
                        out.printf("  run %d: modalign %.2f steps/s (data %.2f%%, tracking %.3f%%, JIT %s, peak %s, loss %.4f)%s%n",
                                run + 1, mine.stepsPerSecond(), 100 * mine.dataShare(), 100 * mine.trackingShare(),
                                compiling(mine), PeakMemory.format(mine.peakBytes()), mine.finalLoss(),
                                other == null ? "" : String.format("; PyTorch %.2f steps/s (peak %s)", other.stepsPerSecond(),
                                        PeakMemory.format(other.peakBytes())));
                    }
                    double referenceValues = theirs.isEmpty() ? Double.NaN : theirs.get(0).parameters();
                    if (!Double.isNaN(referenceValues) && referenceValues != ours.get(0).parameters()) {
                        out.printf("  warning: the PyTorch reference trains %.0f values and modalign %d: the models differ,"
                                + " and the ratio compares different work%n", referenceValues, ours.get(0).parameters());
                    }
                    double flops = theirs.isEmpty() ? Double.NaN : theirs.get(0).flopsPerStep();
                    Row row = new Row(name, threads, batchSize, Samples.of(ours, StepBenchmark.Measurement::stepsPerSecond),
                            Samples.of(theirs, PytorchReference.Measurement::stepsPerSecond), pairedRatios(ours, theirs), flops,
                            Samples.of(ours, StepBenchmark.Measurement::samplesPerSecond),
                            Samples.of(ours, StepBenchmark.Measurement::dataShare),
                            Samples.of(ours, StepBenchmark.Measurement::trackingShare),
                            Samples.of(ours, m -> m.peakBytes() < 0 ? Double.NaN : m.peakBytes()),
                            Samples.of(theirs, m -> m.peakBytes() < 0 ? Double.NaN : m.peakBytes()));
                    rows.add(row);
                    if (phases) {
                        printPhases(ours, theirs);
                    }
                    out.printf("  median: modalign %s steps/s, %.0f samples/s, %s GFLOP/s; PyTorch %s steps/s; ratio %s;"
                            + " paired ratio %s%n", row.modalign().format("%.2f"), row.samplesPerSecond().median(),
                            gflops(flops, row.modalign().median()), row.pytorch().format("%.2f"), ratio(row),
                            row.pairedRatio().format("%.2f"));
                }
            } finally {
                if (card != null) {
                    card.toFile().delete();
                }
            }
        }
        table();
    }

    /** Medians over the runs of each phase's milliseconds per step, modalign's and the reference's. */
    private void printPhases(List<StepBenchmark.Measurement> ours, List<PytorchReference.Measurement> theirs) {
        StringBuilder line = new StringBuilder("  phases, ms/step (median of runs): modalign");
        double total = 0;
        for (dev.modalign.core.train.StepListener.Phase phase : dev.modalign.core.train.StepListener.Phase.values()) {
            double median = Samples.of(ours, m -> m.phaseMillis()[phase.ordinal()]).median();
            total += median;
            line.append(String.format(" %s %.2f,", phase.name().toLowerCase(java.util.Locale.ROOT), median));
        }
        double other = Samples.of(ours, m -> 1000 / m.stepsPerSecond()
                - java.util.Arrays.stream(m.phaseMillis()).sum()).median();
        // "other": a step's wall time outside its phases (between steps: progress, checkpoints, garbage collection).
        line.append(String.format(" sum %.2f, other %.2f", total, other));
        out.println(line);
        if (!theirs.isEmpty() && !theirs.get(0).phaseMillis().isEmpty()) {
            StringBuilder reference = new StringBuilder("  phases, ms/step (median of runs): PyTorch ");
            double sum = 0;
            for (String name : theirs.get(0).phaseMillis().keySet()) {
                double median = Samples.of(theirs, m -> m.phaseMillis().getOrDefault(name, Double.NaN)).median();
                sum += median;
                reference.append(String.format(" %s %.2f,", name, median));
            }
            reference.append(String.format(" sum %.2f", sum));
            out.println(reference);
        }
    }

    private void table() {
        out.printf("%nmedians of the runs above; ratio = modalign / PyTorch steps/s of the medians; paired = the median"
                + " of each run's ratio to the reference run beside it (robust to the machine's load changing between"
                + " runs); data and tracking: share of modalign's step time waiting for the batch and logging metrics%n");
        out.println("| configuration | threads | modalign steps/s | PyTorch steps/s | ratio | paired | samples/s | GFLOP/s"
                + " modalign / PyTorch | peak RSS modalign / PyTorch | data | tracking |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|");
        for (Row row : rows) {
            out.printf("| %s (batch %d) | %d | %.2f | %s | %s | %s | %.0f | %s / %s | %s / %s | %.2f%% | %.3f%% |%n",
                    row.config(), row.batchSize(), row.threads(), row.modalign().median(),
                    row.pytorch().count() == 0 ? "-" : String.format("%.2f", row.pytorch().median()), ratio(row),
                    row.pairedRatio().count() == 0 ? "-" : String.format("%.2fx", row.pairedRatio().median()),
                    row.samplesPerSecond().median(), gflops(row.flopsPerStep(), row.modalign().median()),
                    gflops(row.flopsPerStep(), row.pytorch().median()), PeakMemory.format(row.peak().median()),
                    PeakMemory.format(row.pytorchPeak().median()), 100 * row.dataShare().median(),
                    100 * row.trackingShare().median());
        }
    }

    /** Retrieval over N x N random embeddings with the configuration's first two towers, beside the bare products. */
    public void retrieval(Path config, List<String> assignments, int records, int dim) {
        List<String> settings = new ArrayList<>(assignments);
        RunPlan probe = new RunComposer(registry, cacheDir).compose(config, settings);
        String first = probe.towers().get(0).name();
        String second = probe.towers().get(1).name();
        settings.add("evaluate=[{type: retrieval, towers: [" + first + ", " + second + "], k: [1, 5, 10]}]");
        if (probe.eval() == null) {
            settings.add("data.eval=" + yamlOf(probe));
        }
        RunPlan plan = new RunComposer(registry, cacheDir).compose(config, settings);
        RunPlan.NamedEvaluator evaluator = plan.evaluators().get(0);
        Object blockSize = ((Map<?, ?>) ((List<?>) plan.resolved().get("evaluate")).get(0)).get("block_size");
        int block = blockSize instanceof Number number ? number.intValue() : 1024;
        int threads = Math.max(1, plan.spec().train().threads());
        Engine.getInstance(); // loads the native library before its thread count is set
        ai.djl.pytorch.jni.JniUtils.setNumThreads(threads);
        out.printf("%nretrieval: %d x %d random embeddings of size %d, both directions, blocks of %d queries, %d thread%s%n",
                records, records, dim, block, threads, threads == 1 ? "" : "s");
        RetrievalBenchmark.Result result = RetrievalBenchmark.run(evaluator.evaluator(), List.of(first, second), records,
                dim, block, device(), plan.spec().seed());
        double oneProduct = 2.0 * records * (double) records * dim;
        out.printf("  retrieval evaluator (both directions): %.1f s, peak RSS %s%n", result.evaluatorSeconds(),
                PeakMemory.format(result.evaluatorPeakBytes()));
        out.printf("  the N x N product alone, one direction: %.1f s (%.1f GFLOP/s); evaluator / one product: %.2fx%n",
                result.oneDirectionSeconds(), oneProduct / result.oneDirectionSeconds() / 1e9,
                result.evaluatorSeconds() / result.oneDirectionSeconds());
        out.printf("  the products alone, each direction on its own: %.1f s (%.1f GFLOP/s), peak RSS %s; evaluator /"
                + " both products: %.2fx%n", result.gemmSeconds(), 2 * oneProduct / result.gemmSeconds() / 1e9,
                PeakMemory.format(result.gemmPeakBytes()), result.evaluatorSeconds() / result.gemmSeconds());
        out.printf("  %s/R_at_1 = %.6f (chance %.6f)%n", first + "_to_" + second,
                result.metrics().getOrDefault(first + "_to_" + second + "/R_at_1", Double.NaN),
                result.metrics().getOrDefault(first + "_to_" + second + "/chance_R_at_1", Double.NaN));
    }

    /** The training source as an inline YAML value, standing in for data.eval: the embeddings are random anyway. */
    private static String yamlOf(RunPlan plan) {
        @SuppressWarnings("unchecked")
        Map<String, Object> train = (Map<String, Object>) ((Map<String, Object>) plan.resolved().get("data")).get("train");
        org.yaml.snakeyaml.DumperOptions options = new org.yaml.snakeyaml.DumperOptions();
        options.setDefaultFlowStyle(org.yaml.snakeyaml.DumperOptions.FlowStyle.FLOW);
        options.setWidth(Integer.MAX_VALUE);
        return new org.yaml.snakeyaml.Yaml(options).dump(train).strip();
    }

    private Device device() {
        return device.equals("gpu") ? Device.gpu() : Device.cpu();
    }

    /**
     * Each run's modalign steps/s over the reference run made beside it (the runs alternate which goes
     * first): a load that changes between runs falls on both members of a pair.
     */
    static Samples pairedRatios(List<StepBenchmark.Measurement> ours, List<PytorchReference.Measurement> theirs) {
        List<Double> ratios = new ArrayList<>();
        for (int i = 0; i < Math.min(ours.size(), theirs.size()); i++) {
            ratios.add(ours.get(i).stepsPerSecond() / theirs.get(i).stepsPerSecond());
        }
        return Samples.of(ratios, Double::doubleValue);
    }

    private static String ratio(Row row) {
        return row.pytorch().count() == 0 ? "-" : String.format("%.2fx", row.modalign().median() / row.pytorch().median());
    }

    private static String gflops(double flopsPerStep, double stepsPerSecond) {
        return Double.isNaN(flopsPerStep) || Double.isNaN(stepsPerSecond) ? "-"
                : String.format("%.1f", flopsPerStep * stepsPerSecond / 1e9);
    }

    /** The OpenMP wait settings modalign's engine loaded with, and which of them the launcher chose. */
    static String openMpSettings() {
        List<String> defaulted = PytorchReference.launcherDefaults(System.getenv());
        List<String> settings = new ArrayList<>();
        for (String name : List.of("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")) {
            String value = System.getenv(name);
            if (value != null) {
                settings.add(name + "=" + value + (defaulted.contains(name) ? " (launcher default; the reference runs"
                        + " without it)" : ""));
            }
        }
        return settings.isEmpty() ? "OpenMP wait: libgomp defaults" : "OpenMP wait: " + String.join(", ", settings);
    }

    /** The time the JVM's compilers spent during a run's timed steps, e.g. "120 ms", or "-" where the JVM does not say. */
    private static String compiling(StepBenchmark.Measurement run) {
        return run.compileMillis() < 0 ? "-" : run.compileMillis() + " ms";
    }

    /** Steps that take about {@code seconds} at {@code stepsPerSecond}, within [{@value #MIN_STEPS}, {@value #MAX_STEPS}]. */
    static int calibratedSteps(double stepsPerSecond, double seconds) {
        double wanted = stepsPerSecond * seconds;
        return (int) Math.max(MIN_STEPS, Math.min(MAX_STEPS, Math.round(Double.isFinite(wanted) ? wanted : MAX_STEPS)));
    }

    private static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).split("\\s+");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
