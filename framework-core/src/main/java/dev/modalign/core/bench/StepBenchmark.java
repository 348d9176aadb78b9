package dev.modalign.core.bench;

import com.google.inject.Guice;
import com.google.inject.Injector;
import dev.modalign.api.Tracker;
import dev.modalign.core.compose.RunModule;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.train.RunResult;
import dev.modalign.core.train.StepListener;
import dev.modalign.core.train.Trainer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Times the framework's real training step on one configuration: the experiment is composed and run
 * by the {@link Trainer} as {@code modalign run} does (loader threads, augmentation, the towers, the
 * weighted losses, backward, gradient clipping, AdamW, the tracker writing its records), for
 * {@code warmup + steps} steps with no evaluation, and the steps after the warm-up are timed.
 *
 * @param registry the plugins
 * @param cacheDir the components' cache directory
 * @param device auto, cpu or gpu
 */
public record StepBenchmark(PluginRegistry registry, Path cacheDir, String device) {

    /**
     * One run's measurement over the timed steps.
     *
     * @param stepsPerSecond timed steps over their wall time, first step's request for data to last step's end
     * @param samplesPerSecond records over the same time
     * @param dataShare the fraction of that time the steps waited for their batch (loading not ahead, collation)
     * @param trackingShare the fraction spent logging metrics to the tracker
     * @param peakBytes the process's peak resident memory during the run, or -1
     * @param finalLoss the last step's loss
     * @param parameters the number of trained values (towers that are not frozen, and the losses' parameters)
     * @param phaseMillis mean milliseconds per timed step in each {@link StepListener.Phase}, by ordinal
     * @param compileMillis the JVM's just-in-time compilers' time during the timed steps (on a core the engine's threads
     *        may need), or -1 where the JVM does not say
     */
    public record Measurement(double stepsPerSecond, double samplesPerSecond, double dataShare, double trackingShare,
            long peakBytes, double finalLoss, long parameters, double[] phaseMillis, long compileMillis) {}

    /**
     * Composes {@code file} with {@code assignments}, the thread count and the step count, trains it and
     * returns the timing of the steps after {@code warmup}.
     */
    public Measurement run(Path file, List<String> assignments, int threads, int warmup, int steps) {
        if (steps < 1 || warmup < 0) {
            throw new IllegalArgumentException("steps must be >= 1 and warmup >= 0, found " + steps + " and " + warmup);
        }
        List<String> settings = new ArrayList<>(assignments);
        settings.add("train.threads=" + threads);
        settings.add("train.max_steps=" + (warmup + steps));
        settings.add("evaluate=[]");
        // Checkpoints are the run's I/O, not its step, and the reference writes none: with the default
        // (every epoch) the small generated sets of the MLP configurations (8 batches an epoch at 256) wrote
        // 27 MB every 8 timed steps, a fifth of the measured time.
        settings.add("train.checkpoint_every=end");
        Path runsDir = temporaryDirectory();
        List<StepListener.StepTime> times = new ArrayList<>();
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        try {
            Injector injector = compose(file, runsDir, settings, quiet);
            RunPlan plan = injector.getInstance(RunPlan.class);
            long perEpoch = Math.max(1, plan.train().source().size() / plan.spec().train().batchSize());
            if ((long) plan.spec().train().epochs() * perEpoch < warmup + steps) {
                // More epochs than the file's: the schedule, over train.max_steps, is the same.
                settings.add("train.epochs=" + (warmup + steps + perEpoch - 1) / perEpoch);
                injector = compose(file, runsDir, settings, quiet);
                plan = injector.getInstance(RunPlan.class);
            }
            long[] compiledBefore = {warmup == 0 ? compileMillis() : -1};
            Trainer trainer = injector.getInstance(Trainer.class).progressTo(quiet).listening(time -> {
                if (time.step() >= warmup) {
                    times.add(time);
                } else if (time.step() == warmup - 1) {
                    compiledBefore[0] = compileMillis();
                }
            });
            // The previous run's garbage collected and, where the collector gives memory back, returned, so that
            // each run's peak starts from the same floor.
            System.gc();
            PeakMemory.reset();
            RunResult result;
            try {
                result = trainer.run();
            } finally {
                injector.getInstance(Tracker.class).close();
            }
            long peak = PeakMemory.peakBytes();
            long compiledAfter = compileMillis();
            long compiled = compiledBefore[0] < 0 || compiledAfter < 0 ? -1 : compiledAfter - compiledBefore[0];
            return measure(times, peak, result.finalLoss(), trainedValues(plan), compiled);
        } finally {
            deleteRecursively(runsDir);
        }
    }

    private Injector compose(Path file, Path runsDir, List<String> settings, PrintStream out) {
        return Guice.createInjector(new RunModule(registry, file, new RunModule.Overrides(null, runsDir, device, settings),
                cacheDir, out));
    }

    /** The values the optimiser trained: every parameter of the towers not frozen that takes a gradient, and the losses'. */
    static long trainedValues(RunPlan plan) {
        long values = 0;
        for (dev.modalign.core.compose.Tower tower : plan.towers()) {
            if (!tower.frozen()) {
                for (var entry : tower.encoder().block().getParameters()) {
                    if (entry.getValue().requiresGradient() && entry.getValue().isInitialized()) {
                        values += entry.getValue().getArray().size();
                    }
                }
            }
        }
        for (RunPlan.WeightedLoss loss : plan.losses()) {
            for (ai.djl.nn.Parameter parameter : loss.loss().parameters()) {
                if (parameter.requiresGradient() && parameter.isInitialized()) {
                    values += parameter.getArray().size();
                }
            }
        }
        return values;
    }

    /** The JVM's total just-in-time compilation time so far, in milliseconds, or -1 where it does not say. */
    static long compileMillis() {
        CompilationMXBean compiler = ManagementFactory.getCompilationMXBean();
        return compiler != null && compiler.isCompilationTimeMonitoringSupported() ? compiler.getTotalCompilationTime() : -1;
    }

    static Measurement measure(List<StepListener.StepTime> times, long peakBytes, double finalLoss, long parameters,
            long compileMillis) {
        if (times.isEmpty()) {
            throw new IllegalStateException("no step was timed");
        }
        long wall = times.get(times.size() - 1).endNanos() - times.get(0).startNanos();
        long samples = times.stream().mapToLong(StepListener.StepTime::samples).sum();
        long data = times.stream().mapToLong(StepListener.StepTime::dataNanos).sum();
        long tracking = times.stream().mapToLong(StepListener.StepTime::trackingNanos).sum();
        double seconds = wall / 1e9;
        double[] phases = new double[StepListener.Phase.values().length];
        for (StepListener.StepTime time : times) {
            for (int i = 0; i < phases.length; i++) {
                phases[i] += time.phaseNanos()[i] / 1e6 / times.size();
            }
        }
        return new Measurement(times.size() / seconds, samples / seconds, data / (double) wall, tracking / (double) wall,
                peakBytes, finalLoss, parameters, phases, compileMillis);
    }

    private static Path temporaryDirectory() {
        try {
            return Files.createTempDirectory("modalign-bench");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // A temporary directory left behind is not worth failing the benchmark for.
        }
    }
}
