package dev.modalign.core.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import dev.modalign.api.BatchEncoder;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.EvalResult;
import dev.modalign.api.GradientCombiner;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Modality;
import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import dev.modalign.api.TowerOutput;
import dev.modalign.api.TrackedRun;
import dev.modalign.api.Tracker;
import dev.modalign.core.RunFailure;
import dev.modalign.core.RunStopped;
import dev.modalign.core.UserError;
import dev.modalign.core.compose.Resolved;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.compose.RunPlan.NamedEvaluator;
import dev.modalign.core.compose.RunPlan.WeightedLoss;
import dev.modalign.core.compose.Tower;
import dev.modalign.core.config.ExperimentSpec;
import dev.modalign.core.config.ExperimentSpec.TrainSpec;
import dev.modalign.core.plugin.ComponentKind;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.track.LocalTracker;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Trains a composed run and evaluates it, recording everything in the tracker.
 *
 * <p>A step: the loader has the batch ready (decoded, augmented and collated on worker threads);
 * each tower encodes it; the weighted losses are added; the sum is back-propagated; the global
 * gradient norm is clipped; AdamW updates at the cosine schedule's rate. All arrays made during the
 * step, including those derived from parameters, belong to the step's manager and are closed with
 * it: parameters, gradients and optimiser state are lent to that manager for the step. With a gradient
 * policy ({@code train.gradient}) each weighted loss term is back-propagated on its own instead, and the
 * policy's combination of the per-term gradients is what is clipped and applied.
 *
 * <p>Resumable: {@link Checkpoint}s at {@code train.checkpoint_every} and at the end hold the model,
 * the optimiser, each loss's state and the position in the data. Every source of randomness is a
 * function of the seed and the position: the order of an epoch of (seed, epoch), an example's
 * augmentation of (seed, epoch, index), the step's {@link StepContext#rng()} of (seed, step), and the
 * engine's generator (dropout) is re-seeded from (seed, step) before every step, because DJL cannot
 * read PyTorch's generator state to save it. A run resumed from a checkpoint therefore takes exactly
 * the steps the uninterrupted run would have (bit for bit on CPU with {@code train.threads: 1}).
 *
 * <p>SIGINT and SIGTERM stop the run at the next step boundary with a checkpoint, the run marked KILLED.
 */
public final class Trainer {

    private final RunPlan plan;
    private final Tracker tracker;
    private final DataErrors skipped = new DataErrors();
    private final Device device;
    private final PrintStream out;
    private final Provenance provenance;
    private volatile String runId;
    private final PluginRegistry registry;
    private final Path cacheDir;
    private volatile StopSignal stopSignal;

    private StepListener listener = time -> { };
    /** Where the progress line goes: standard error, so that standard output holds only the run's results. */
    private PrintStream progressOut = System.err;
    /** The momentum copies among the towers, paired once the blocks are initialised. */
    private MomentumTowers momentumTowers;
    /** The current step's time per {@link StepListener.Phase}, reset before each step. */
    private final long[] phases = new long[StepListener.Phase.values().length];
    /** The gradient policy's view of the terms and parameters, made at its first step (fixed for the run). */
    private TermLayout termLayout;
    /** Frozen towers' outputs, computed once per distinct input (64 M floats, 256 MB, at most). */
    private final FrozenEmbeddings frozenEmbeddings = new FrozenEmbeddings(64L << 20);

    @Inject
    public Trainer(RunPlan plan, Tracker tracker, Device device, PrintStream out, Provenance provenance,
            PluginRegistry registry, @Named("cacheDir") Path cacheDir) {
        this.plan = plan;
        this.tracker = tracker;
        this.device = device;
        this.out = out;
        this.provenance = provenance;
        this.registry = registry;
        this.cacheDir = cacheDir;
    }

    /** The id of the run {@link #run()} started, or null before it started one (also when it then failed). */
    public String runId() {
        return runId;
    }

    /** Tells {@code listener} the timing of every training step (the benchmark's clock); replaces any earlier one. */
    public Trainer listening(StepListener listener) {
        this.listener = listener;
        return this;
    }

    /** Sends the progress line to {@code out} instead of standard error (the bench, which prints its own lines). */
    public Trainer progressTo(PrintStream out) {
        this.progressOut = out;
        return this;
    }

    /** Runs training and evaluation; the run is marked FINISHED, or FAILED with the error, in the tracker. */
    public RunResult run() {
        return run(null);
    }

    /**
     * Runs training and evaluation, as a new run or, with {@code resume}, continuing a run from its newest
     * checkpoint that loads: {@code resume} is a run id, a run's or a checkpoint's directory, or {@code
     * "latest"} (the experiment's run with the most recent checkpoint). The run is marked FINISHED; FAILED
     * with the error (an evaluator that failed included); or KILLED when a signal stopped it, which throws
     * {@link RunStopped} after the checkpoint.
     */
    public RunResult run(String resume) {
        ExperimentSpec spec = plan.spec();
        String experiment = spec.tracking().experiment() != null ? spec.tracking().experiment() : spec.name();
        ResumePoint from = null;
        TrackedRun opened;
        if (resume == null) {
            String runName = spec.tracking().runName() != null ? spec.tracking().runName()
                    : spec.name() + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("MMdd-HHmmss"));
            opened = tracker.startRun(new RunSpec(experiment, runName, spec.tracking().parentRun()));
            out.println("run " + opened.id() + " (" + runName + ") recording to " + opened.location());
        } else {
            Path localStore = tracker instanceof LocalTracker local ? local.root() : null;
            from = ResumePoint.locate(resume.isBlank() ? ResumePoint.LATEST : resume, localStore, cacheDir, experiment,
                    warning -> out.println("warning: " + warning));
            from.requireSameConfiguration(Resolved.flatten(plan.resolved()), plan.file().toString());
            String runId = from.runId();
            Path found = from.checkpoint().dir();
            opened = tracker.resumeRun(runId).orElseThrow(() -> new UserError("the tracker has no run " + runId + " to continue"
                    + " (its checkpoint is " + found + "); resume with the tracking URI the run was recorded with"));
            out.println("run " + opened.id() + " resumed from step " + from.checkpoint().manifest().step() + " ("
                    + from.checkpoint().dir() + "), recording to " + opened.location());
        }
        runId = opened.id();
        TrackedRun run = new GuardedRun(opened, "continue with: modalign run " + plan.file() + " --resume " + opened.id());
        java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
        // The JVM exiting mid-run (a second Ctrl-C, System.exit): the run is marked KILLED and its tracker flushes
        // what it can (or keeps it for sync). A first Ctrl-C or TERM stops at a step boundary instead (StopSignal).
        Thread onExit = new Thread(() -> {
            if (ended.compareAndSet(false, true)) {
                run.end(RunStatus.KILLED, "the process exited during the run (a second Ctrl-C or TERM)");
                tracker.close();
            }
        }, "modalign-run-killed");
        Runtime.getRuntime().addShutdownHook(onExit);
        try (StopSignal stop = StopSignal.install(out)) {
            stopSignal = stop;
            if (from == null) {
                record(run);
            } else {
                run.setTags(Map.of("modalign.resumed_from_step", Long.toString(from.checkpoint().manifest().step())));
            }
            RunResult result = trainAndEvaluate(run, experiment, from, stop);
            if (ended.compareAndSet(false, true)) {
                if (result.failures().isEmpty()) {
                    run.end(RunStatus.FINISHED, null);
                } else {
                    StringBuilder message = new StringBuilder();
                    result.failures().forEach((name, error) -> message.append(message.length() == 0 ? "" : "; ")
                            .append("evaluator '").append(name).append("' ").append(pluginOf(ComponentKind.EVALUATOR,
                                    evaluatorType(name))).append("failed: ").append(error));
                    run.end(RunStatus.FAILED, message.toString());
                }
            }
            return result;
        } catch (RunStopped e) {
            endQuietly(ended, run, RunStatus.KILLED, e.getMessage(), e);
            throw e;
        } catch (RuntimeException | Error e) {
            endQuietly(ended, run, RunStatus.FAILED, e.getMessage() == null ? e.toString() : e.getMessage(), e);
            throw e;
        } finally {
            stopSignal = null;
            try {
                Runtime.getRuntime().removeShutdownHook(onExit);
            } catch (IllegalStateException shuttingDown) {
                // The JVM is already shutting down; the hook runs (or ran) and ends the run.
            }
        }
    }

    /** Ends the run; a tracker that cannot record the end (a full disk) does not hide the error that ended it. */
    private static void endQuietly(java.util.concurrent.atomic.AtomicBoolean ended, TrackedRun run, RunStatus status,
            String message, Throwable cause) {
        if (ended.compareAndSet(false, true)) {
            try {
                run.end(status, message);
            } catch (RuntimeException e) {
                cause.addSuppressed(e);
            }
        }
    }

    /**
     * Asks a run in progress to stop at the next step boundary, as SIGINT or SIGTERM do: it writes a
     * checkpoint, is marked KILLED and {@link #run} throws {@link RunStopped}. No effect when no run is in progress.
     */
    public void requestStop(String why) {
        StopSignal stop = stopSignal;
        if (stop != null) {
            stop.request(why);
        }
    }

    private void record(TrackedRun run) {
        run.logParams(Resolved.flatten(plan.resolved()));
        run.setTags(provenance.tags(plan));
        try {
            Path resolvedYaml = Files.createTempFile("modalign-resolved", ".yaml");
            Files.writeString(resolvedYaml, provenance.resolvedYaml(plan));
            run.logArtifact(resolvedYaml, "config/resolved.yaml");
            run.logArtifact(plan.file(), "config/" + plan.file().getFileName());
            Files.deleteIfExists(resolvedYaml);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private RunResult trainAndEvaluate(TrackedRun run, String experiment, ResumePoint from, StopSignal stop) {
        TrainSpec train = plan.spec().train();
        long seed = plan.spec().seed();
        Engine engine = Engine.getInstance();
        engine.setRandomSeed((int) seed);
        if (train.threads() > 0) {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(train.threads());
        }
        try (NDManager root = NDManager.newBaseManager(device);
                DataLoader loader = new DataLoader(plan.train().source(), plan.train().towersReading(plan.towers()),
                        plan.train().labelField(),
                        train.batchSize(), seed, true, train.dropLast(), train.workers(), root)
                        .skippingBadRecords(skipping(train))) {
            long perEpoch = loader.batchesPerEpoch();
            if (perEpoch == 0) {
                throw new UserError("data.train has " + plan.train().source().size() + " records, fewer than train.batch_size "
                        + train.batchSize() + "; lower batch_size or add records");
            }
            long total = (long) train.epochs() * perEpoch;
            if (train.maxSteps() > 0) {
                total = Math.min(total, train.maxSteps());
            }
            Position start = Position.START;
            if (from != null) {
                Checkpoint.Manifest manifest = from.checkpoint().manifest();
                if (manifest.totalSteps() != total) {
                    throw new UserError("the checkpoint " + from.checkpoint().dir() + " is of a run of " + manifest.totalSteps()
                            + " steps, this one has " + total + "; resume with the data and train settings it started with");
                }
                start = new Position(manifest.step(), manifest.epoch(), manifest.batch(), manifest.lastLoss(),
                        manifest.skippedSteps());
                skipped.restore(manifest.skippedRecords());
                // Checkpoints after this one (a resume from an earlier one) belong to a future this run replaces.
                Checkpoint.removeAfter(from.root(), manifest.step());
            }
            NDManager model = root.newSubManager();
            Iterator<DataLoader.Batch> batches = start.epoch() < train.epochs() ? loader.epoch(start.epoch(), start.batch())
                    : java.util.Collections.emptyIterator();
            DataLoader.Batch first = batches.hasNext() ? batches.next() : null;
            List<Parameter> trainable;
            if (first != null) {
                trainable = initialise(model, first);
            } else {
                // Resumed after the last step (killed during the final evaluation): a batch for the shapes only.
                try (DataLoader.Batch shapes = loader.epoch(0, 0).next()) {
                    trainable = initialise(model, shapes);
                }
            }
            if (from == null) {
                Map<String, String> starts = loadInitialWeights(model);
                if (!starts.isEmpty()) {
                    run.setTags(starts);
                }
            }
            momentumTowers = MomentumTowers.of(plan.towers());
            if (from == null) {
                // A resumed run's momentum towers come from its checkpoint, as every tower's weights do.
                momentumTowers.copyOnline();
            }
            AdamW optimizer = new AdamW(trainable, train.optimizer(), model, train.threads());
            List<NDArray> fixed = allParameters().stream().filter(p -> !trainable.contains(p)).map(Parameter::getArray).toList();
            TrainingState state = new TrainingState(plan.towers(), plan.losses());
            if (from != null) {
                try {
                    state.restore(from.checkpoint(), optimizer, model);
                } catch (IOException e) {
                    throw new RunFailure("cannot read the checkpoint " + from.checkpoint().dir() + ": " + e.getMessage(), e);
                }
            }
            CheckpointPlace place = new CheckpointPlace(experiment, from == null ? null : from.root());
            CosineSchedule schedule = CosineSchedule.of(train.optimizer().lr(), total, train.warmup(), train.minLrRatio());
            ParameterStore parameters = optimizer.parameterStore(model);
            out.printf("training %d steps (%d epochs x %d batches of %d) on %s, %d parameters%s%n", total, train.epochs(),
                    perEpoch, train.batchSize(), device, trainable.stream().mapToLong(p -> p.getArray().size()).sum(),
                    start.step() > 0 ? ", from step " + start.step() : "");

            Progress progress = new Progress(progressOut, progressOut == System.err && Progress.isTerminal(), total,
                    start.step());
            long step = start.step();
            double lastLoss = start.lastLoss();
            long skippedSteps = start.skippedSteps();
            long stepsEvery = stepsBetweenCheckpoints(train);
            long started = System.nanoTime();
            long windowStart = started;
            long windowSamples = 0;
            int leakChecks = 0;
            int managedBefore = 0;
            long waitedForData = 0;
            long spentLogging = 0;
            long lastCheckpointStep = -1;
            training:
            for (int epoch = start.epoch(); epoch < train.epochs(); epoch++) {
                Iterator<DataLoader.Batch> epochBatches = epoch == start.epoch()
                        ? (first == null ? batches : prepend(first, batches)) : loader.epoch(epoch, 0);
                long batchIndex = epoch == start.epoch() ? start.batch() : 0;
                while (true) {
                    if (step >= total) {
                        break training;
                    }
                    // hasNext loads the batch on this thread without workers, and hands the next to the workers with
                    // them: both are the data's time.
                    long asked = System.nanoTime();
                    if (!epochBatches.hasNext()) {
                        break;
                    }
                    DataLoader.Batch next = epochBatches.next();
                    long dataWait = System.nanoTime() - asked;
                    long loggedBefore = spentLogging;
                    int samples = next.size();
                    java.util.Arrays.fill(phases, 0);
                    phases[StepListener.Phase.DATA.ordinal()] = dataWait;
                    long closed;
                    try (DataLoader.Batch batch = next) {
                        double lr = schedule.at(step);
                        StepStats stats = step(batch, parameters, optimizer, lent(optimizer, fixed), lr, step, epoch, total,
                                train, loader::readAhead);
                        if (stats.skipped()) {
                            skippedSteps++;
                            out.println("warning: " + stats.skipReason() + "; the step is skipped (train.on_nonfinite: skip, "
                                    + skippedSteps + " of at most " + train.maxSkippedSteps() + ")");
                            run.logMetric("train/skipped_steps", skippedSteps, step);
                            if (skippedSteps > train.maxSkippedSteps()) {
                                throw new RunFailure(stats.skipReason() + "; that is " + skippedSteps + " skipped steps, more than"
                                        + " train.max_skipped_steps " + train.maxSkippedSteps() + ": the run is failing, not"
                                        + " hitting a bad batch; lower optimizer.lr or check the data");
                            }
                        } else {
                            lastLoss = stats.loss();
                        }
                        windowSamples += batch.size();
                        if (!stats.skipped() && logsMetrics(step, total, train)) {
                            long now = System.nanoTime();
                            double samplesPerSecond = windowSamples / Math.max(1e-9, (now - windowStart) / 1e9);
                            logStep(run, step, stats, lr, samplesPerSecond);
                            spentLogging += System.nanoTime() - now;
                            windowStart = now;
                            windowSamples = 0;
                        }
                        progress.update(step, stats.loss(), batch.size() * (step + 1 - start.step()) / Math.max(1e-9,
                                (System.nanoTime() - started) / 1e9));
                        closed = System.nanoTime();
                    }
                    long end = System.nanoTime();
                    phases[StepListener.Phase.CLOSE.ordinal()] += end - closed;
                    phases[StepListener.Phase.TRACKING.ordinal()] = spentLogging - loggedBefore;
                    // The data's time: waiting for the batch, and handing the workers the next reads mid-step.
                    long dataTime = phases[StepListener.Phase.DATA.ordinal()];
                    waitedForData += dataTime;
                    listener.stepTimed(new StepListener.StepTime(step, samples, asked, end, dataTime,
                            spentLogging - loggedBefore, phases.clone()));
                    if (step == start.step() + 1 || step == start.step() + 3) {
                        int managed = model.getManagedArrays().size();
                        if (leakChecks++ == 1 && managed > managedBefore) {
                            out.println("warning: " + (managed - managedBefore) / 2 + " arrays per step are left in the model's"
                                    + " manager by a component; memory will grow during the run");
                        }
                        managedBefore = managed;
                    }
                    step++;
                    batchIndex++;
                    Position here = new Position(step, epoch, batchIndex, lastLoss, skippedSteps);
                    if (stop.requested() != null) {
                        throw stopped(stop.requested(), run, place, state, optimizer, here, total);
                    }
                    if (stepsEvery > 0 && step % stepsEvery == 0 && step < total) {
                        writeCheckpoint(run, place, state, optimizer, here, total);
                        lastCheckpointStep = step;
                    }
                }
                int finished = epoch;
                List<NamedEvaluator> due = plan.evaluators().stream().filter(e -> e.dueAfter(finished, train.epochs())).toList();
                if (plan.eval() != null && !due.isEmpty() && step < total) {
                    long evalStarted = System.nanoTime();
                    evaluate(run, root, parameters, lent(optimizer, fixed), step - 1, due, new LinkedHashMap<>(),
                            new LinkedHashMap<>());
                    // Evaluation is not training: keep it out of the throughput and the shares below.
                    long spent = System.nanoTime() - evalStarted;
                    started += spent;
                    windowStart += spent;
                }
                Position next = new Position(step, epoch + 1, 0, lastLoss, skippedSteps);
                if (stop.requested() != null && step < total) {
                    throw stopped(stop.requested(), run, place, state, optimizer, next, total);
                }
                if (stepsEvery == 0 && step < total && lastCheckpointStep != step) {
                    writeCheckpoint(run, place, state, optimizer, next, total);
                    lastCheckpointStep = step;
                }
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            long taken = step - start.step();
            run.logMetric("train/steps_per_sec", taken / seconds, step);
            // What the step waited for that is not the model: the loader and the tracker (both should be near zero).
            double dataShare = waitedForData / 1e9 / seconds;
            double trackingShare = spentLogging / 1e9 / seconds;
            run.logMetric("train/data_wait_share", dataShare, step);
            run.logMetric("train/tracking_share", trackingShare, step);
            out.printf("share of training time waiting for data %.2f%%, logging %.3f%% (%.1f us/step)%n",
                    100 * dataShare, 100 * trackingShare,
                    taken == 0 ? 0.0 : spentLogging / 1e3 / taken);
            for (Tower tower : plan.towers()) {
                if (FrozenEmbeddings.covers(tower) && frozenEmbeddings.held(tower.name()) > 0) {
                    out.printf("frozen tower '%s': %d inputs encoded once, %d batches served from memory%n", tower.name(),
                            frozenEmbeddings.held(tower.name()), frozenEmbeddings.served(tower.name()));
                }
            }
            Map<String, Double> metrics = new LinkedHashMap<>();
            Map<String, String> failures = new LinkedHashMap<>();
            if (plan.eval() != null && !plan.evaluators().isEmpty()) {
                evaluate(run, root, parameters, lent(optimizer, fixed), step, plan.evaluators(), metrics, failures);
            }
            if (skipped.count() > 0) {
                out.println(skipped.summary());
                run.logMetric("data/skipped_records", skipped.count(), step);
            }
            long writing = System.nanoTime();
            Checkpoint last = writeCheckpoint(run, place, state, optimizer, new Position(step, train.epochs(), 0, lastLoss,
                    skippedSteps), total);
            out.printf("checkpoint %s (%.1f MB, written in %.2f s)%n", last.dir(), last.manifest().files().values().stream()
                    .mapToLong(Checkpoint.FileEntry::bytes).sum() / 1e6, (System.nanoTime() - writing) / 1e9);
            saveFinalArtifacts(run, last);
            return new RunResult(run.id(), run.location(), step, seconds, taken / seconds, lastLoss, metrics, failures);
        }
    }

    /**
     * Where training stands between two steps: steps done, the epoch and batch index of the next step,
     * the last step's loss and the steps skipped so far.
     */
    private record Position(long step, int epoch, long batch, double lastLoss, long skippedSteps) {
        static final Position START = new Position(0, 0, 0, Double.NaN, 0);
    }

    /** Steps between checkpoints: a number, 0 for every epoch, -1 for only the final one. */
    private static long stepsBetweenCheckpoints(TrainSpec train) {
        return switch (train.checkpointEvery()) {
            case "epoch" -> 0;
            case "end" -> -1;
            default -> Long.parseLong(train.checkpointEvery().replace("_", ""));
        };
    }

    /**
     * The directory of a run's checkpoints: in the embedded store, the run's own directory; for a tracking
     * server, {@code <cache>/checkpoints/<experiment>/<run id>}, renamed when the run's id changes (a run
     * started while the server was away has a local id until the server knows it).
     */
    private final class CheckpointPlace {
        private final String experiment;
        private Path current;

        CheckpointPlace(String experiment, Path resumedFrom) {
            this.experiment = experiment;
            this.current = resumedFrom;
        }

        Path root(TrackedRun run) throws IOException {
            Path wanted = tracker instanceof LocalTracker local ? local.runDirectory(experiment, run.id()).resolve("checkpoints")
                    : cacheDir.resolve("checkpoints").resolve(LocalTracker.safe(experiment)).resolve(run.id());
            if (current == null) {
                current = wanted;
            } else if (!current.equals(wanted) && current.getParent().equals(wanted.getParent()) && !Files.exists(wanted)) {
                Files.move(current, wanted, StandardCopyOption.ATOMIC_MOVE);
                current = wanted;
            }
            return current;
        }
    }

    private Checkpoint writeCheckpoint(TrackedRun run, CheckpointPlace place, TrainingState state, AdamW optimizer,
            Position position, long total) {
        Path root = null;
        try {
            root = place.root(run);
            try (Checkpoint.Writer writer = new Checkpoint.Writer(root, position.step())) {
                state.write(writer, optimizer);
                Checkpoint written = writer.commit(new Checkpoint.Manifest(Checkpoint.FORMAT, run.id(), place.experiment,
                        position.step(), position.epoch(), position.batch(), total, position.lastLoss(), position.skippedSteps(),
                        skipped.count(), "derived from the seed and the position: the engine is re-seeded from (seed, step)"
                                + " before every step", Resolved.flatten(plan.resolved()), Map.of(), null));
                Checkpoint.prune(root, plan.spec().train().keepCheckpoints());
                return written;
            }
        } catch (IOException | UncheckedIOException e) {
            throw new RunFailure("cannot write the checkpoint of step " + position.step() + (root == null ? "" : " in " + root)
                    + ": " + e.getMessage() + "; free disk space or make the directory writable, then resume with --resume "
                    + run.id(), e);
        }
    }

    /** Writes the checkpoint of a stop and builds the exception that ends the run KILLED. */
    private RunStopped stopped(String signal, TrackedRun run, CheckpointPlace place, TrainingState state, AdamW optimizer,
            Position position, long total) {
        Checkpoint checkpoint = writeCheckpoint(run, place, state, optimizer, position, total);
        out.println("checkpoint " + checkpoint.dir());
        return new RunStopped("stopped by " + signal + " after step " + position.step() + " of " + total
                + "; continue with: modalign run " + plan.file() + " --resume " + run.id(), StopSignal.exitCode(signal));
    }

    /** Where the loaders count the records they skip, or null when a bad record fails the run. */
    private DataErrors skipping(TrainSpec train) {
        return train.onDataError().equals("skip") ? skipped : null;
    }

    /** The arrays lent to each step's manager: the optimiser's (weights, gradients, moments) and the fixed parameters. */
    private static List<NDArray> lent(AdamW optimizer, List<NDArray> fixed) {
        List<NDArray> lent = new ArrayList<>(optimizer.arrays());
        lent.addAll(fixed);
        return lent;
    }

    private static <T> Iterator<T> prepend(T first, Iterator<T> rest) {
        return new Iterator<>() {
            private boolean firstTaken;

            @Override
            public boolean hasNext() {
                return !firstTaken || rest.hasNext();
            }

            @Override
            public T next() {
                if (!firstTaken) {
                    firstTaken = true;
                    return first;
                }
                return rest.next();
            }
        };
    }

    /** Initialises every block from the first batch's shapes and every loss parameter; returns the trainable ones. */
    private List<Parameter> initialise(NDManager model, DataLoader.Batch first) {
        List<Parameter> trainable = new ArrayList<>();
        for (Tower tower : plan.towers()) {
            Block block = tower.encoder().block();
            block.initialize(model, DataType.FLOAT32, first.inputs().get(tower.name()).getShapes());
            if (tower.frozen()) {
                block.freezeParameters(true);
            }
            for (Pair<String, Parameter> entry : block.getParameters()) {
                if (entry.getValue().requiresGradient() && !tower.frozen()) {
                    trainable.add(entry.getValue());
                }
            }
        }
        for (WeightedLoss loss : plan.losses()) {
            for (Parameter parameter : loss.loss().parameters()) {
                if (!parameter.isInitialized()) {
                    parameter.initialize(model, DataType.FLOAT32);
                }
                if (parameter.requiresGradient()) {
                    trainable.add(parameter);
                }
            }
        }
        return trainable;
    }

    /**
     * Loads the towers' {@code init_from} checkpoints into their initialised encoders; returns a tag per
     * tower saying where its weights came from.
     */
    private Map<String, String> loadInitialWeights(NDManager model) {
        Map<String, String> tags = new LinkedHashMap<>();
        for (Tower tower : plan.towers()) {
            if (tower.initFrom() == null) {
                continue;
            }
            if (tower.encoder() instanceof dev.modalign.core.compose.TorchScriptEncoder module) {
                // Loaded as the tower's encoder when it was initialised.
                out.println("tower '" + tower.name() + "' is the TorchScript module " + module.file() + " (frozen)");
                tags.put("modalign.init_from." + tower.name(), tower.initFrom());
                continue;
            }
            Path file = checkpointOf(tower);
            try (DataInputStream stream = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file)))) {
                tower.encoder().block().loadParameters(model, stream);
            } catch (IOException | ai.djl.MalformedModelException | RuntimeException e) {
                throw new RunFailure("tower '" + tower.name() + "' cannot start from " + file + " (init_from: "
                        + tower.initFrom() + "): " + e.getMessage() + "; the checkpoint must come from the same encoder "
                        + "with the same parameters (type, sizes) as this tower's", e);
            }
            out.println("tower '" + tower.name() + "' starts from " + file + (tower.frozen() ? " (frozen)" : ""));
            tags.put("modalign.init_from." + tower.name(), tower.initFrom());
        }
        return tags;
    }

    /** The checkpoint file a tower's init_from names. */
    private Path checkpointOf(Tower tower) {
        String spec = tower.initFrom().trim();
        String artifact;
        if (spec.startsWith("run:")) {
            String rest = spec.substring(4);
            int slash = rest.indexOf('/');
            String runId = slash < 0 ? rest : rest.substring(0, slash);
            String towerName = slash < 0 ? tower.name() : rest.substring(slash + 1);
            artifact = "checkpoint/" + towerName + ".params";
            return tracker.fetchArtifact(runId, artifact).orElseThrow(() -> new UserError("towers." + tower.name()
                    + ".init_from: the tracker has no " + artifact + " of run '" + runId + "'; check the run id (modalign "
                    + "runs are listed in MLflow or under the runs directory) and that the run finished"));
        }
        if (spec.startsWith("stage:")) {
            throw new UserError("towers." + tower.name() + ".init_from: '" + spec + "' names a stage, which only a file "
                    + "with a stages: block has; use run:<run id> or a checkpoint path here");
        }
        Path path = plan.file().toAbsolutePath().getParent().resolve(spec).normalize();
        if (Files.isDirectory(path)) {
            for (Path candidate : List.of(path.resolve("artifacts/checkpoint/" + tower.name() + ".params"),
                    path.resolve("checkpoint/" + tower.name() + ".params"), path.resolve(tower.name() + ".params"))) {
                if (Files.isRegularFile(candidate)) {
                    return candidate;
                }
            }
            throw new UserError("towers." + tower.name() + ".init_from: " + path + " holds no " + tower.name()
                    + ".params (looked in artifacts/checkpoint/, checkpoint/ and the directory itself)");
        }
        if (!Files.isRegularFile(path)) {
            throw new UserError("towers." + tower.name() + ".init_from: no file " + path + "; give a .params checkpoint, "
                    + "a run directory, or run:<run id>");
        }
        return path;
    }

    private List<Parameter> allParameters() {
        List<Parameter> all = new ArrayList<>();
        for (Tower tower : plan.towers()) {
            tower.encoder().block().getParameters().forEach(entry -> all.add(entry.getValue()));
        }
        plan.losses().forEach(loss -> all.addAll(loss.loss().parameters()));
        return all;
    }

    /**
     * What a step did: its loss, the loss terms and metrics when logged, the gradient norm; or, when it was
     * skipped for a non-finite value (train.on_nonfinite: skip), why.
     */
    private record StepStats(double loss, Map<String, Double> terms, Map<String, Double> metrics, double gradNorm,
            String skipReason) {
        boolean skipped() {
            return skipReason != null;
        }
    }

    /** Whether step {@code step} of {@code total} logs its metrics: every {@code train.log_every}, and the last. */
    private static boolean logsMetrics(long step, long total, TrainSpec train) {
        return step % train.logEvery() == 0 || step == total - 1;
    }

    private StepStats step(DataLoader.Batch batch, ParameterStore parameters, AdamW optimizer, List<NDArray> lent,
            double lr, long step, int epoch, long total, TrainSpec train, Runnable readAhead) {
        boolean skipNonFinite = train.onNonfinite().equals("skip");
        // The engine's generator (dropout) from the seed and the step alone, so that a resumed run draws what the
        // uninterrupted one would: DJL cannot read PyTorch's generator state to checkpoint it.
        long mark = System.nanoTime();
        Engine.getInstance().setRandomSeed((int) DataLoader.mix(plan.spec().seed(), step, -3, -3));
        NDManager stepManager = batch.manager().newSubManager();
        try {
            lent.forEach(stepManager::tempAttachAll);
            boolean logging = logsMetrics(step, total, train);
            StepContext context = new StepContext(step, epoch, total, new Random(DataLoader.mix(plan.spec().seed(), step, -2, -2)),
                    stepManager, true, batchEncoder(batch, parameters, stepManager, true), logging);
            Map<String, NDArray> terms = new LinkedHashMap<>();
            Map<String, NDArray> metrics = new LinkedHashMap<>();
            List<NDArray> weightedTerms = new ArrayList<>();
            List<List<NDArray>> termGradients = null;
            EncodedBatch encoded;
            double loss;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                encoded = encode(batch, parameters, true);
                mark = phase(StepListener.Phase.FORWARD, mark);
                NDArray sum = null;
                for (WeightedLoss weighted : plan.losses()) {
                    LossOutput output = computeLoss(weighted, encoded, context);
                    terms.put(weighted.name(), output.value());
                    output.metrics().forEach((name, value) -> metrics.put(weighted.name() + "/" + name, value));
                    NDArray term = weighted.weight() == 1.0 ? output.value() : Scalars.mul(output.value(), weighted.weight());
                    weightedTerms.add(term);
                    sum = sum == null ? term : sum.add(term);
                }
                mark = phase(StepListener.Phase.LOSS, mark);
                loss = scalar(sum);
                mark = phase(StepListener.Phase.LOSS_READ, mark);
                if (!Double.isFinite(loss)) {
                    String reason = nonFiniteLoss(step, batch, encoded, terms);
                    if (skipNonFinite) {
                        // The step's leaves die with its manager; the optimiser must not hand them out again.
                        optimizer.zeroGradients();
                        return new StepStats(loss, Map.of(), Map.of(), Double.NaN, reason);
                    }
                    throw new RunFailure(reason + "; lower optimizer.lr, check the data for NaN or Inf, or lower a loss's"
                            + " temperature bound (or set train.on_nonfinite: skip to skip such steps)");
                }
                if (plan.gradient() == null) {
                    collector.backward(sum);
                } else {
                    termGradients = backwardPerTerm(weightedTerms, optimizer);
                }
            }
            Map<String, Double> gradientMetrics = termGradients == null ? Map.of()
                    : combineGradients(termGradients, optimizer, context);
            mark = phase(StepListener.Phase.BACKWARD, mark);
            double gradNorm = optimizer.gradientNorm();
            mark = phase(StepListener.Phase.CLIP_NORM, mark);
            // The next batches are read and copied while the optimiser's Java threads run, not beside the forward.
            // Handed over after the gradient norm rather than before it: there the woken loader thread could take the
            // training thread's core before the norm's second thread had started, while the engine's other thread
            // still spun on the other core (hand-over 0.30 ms mean, 0.08 median, at batch 256 on 2 threads).
            readAhead.run();
            mark = phase(StepListener.Phase.DATA, mark);
            if (!Double.isFinite(gradNorm)) {
                String reason = "the gradients are not finite at step " + step + " although the loss is, in "
                        + nonFiniteParameters(optimizer);
                if (skipNonFinite) {
                    optimizer.zeroGradients();
                    return new StepStats(loss, Map.of(), Map.of(), gradNorm, reason);
                }
                throw new RunFailure(reason + "; lower optimizer.lr, or look for a division by a norm that can be 0");
            }
            double maxNorm = train.gradClip();
            // Clipping the global norm ("On the difficulty of training recurrent neural networks", Pascanu et
            // al., 2013) scales the gradients; the optimiser applies the scale as it reads them.
            optimizer.step(lr, maxNorm > 0 && gradNorm > maxNorm ? (float) (maxNorm / (gradNorm + 1e-6)) : 1f);
            mark = phase(StepListener.Phase.OPTIMIZER, mark);
            optimizer.zeroGradients();
            momentumTowers.update();
            for (WeightedLoss weighted : plan.losses()) {
                weighted.loss().afterStep(encoded, context);
            }
            mark = phase(StepListener.Phase.ZERO_AND_AFTER_STEP, mark);
            Map<String, Double> termValues = new LinkedHashMap<>();
            Map<String, Double> metricValues = new LinkedHashMap<>();
            if (logging) {
                terms.forEach((name, value) -> termValues.put(name, scalar(value)));
                metrics.forEach((name, value) -> metricValues.put(name, scalar(value)));
                gradientMetrics.forEach((name, value) -> metricValues.put("gradient/" + name, value));
            }
            phase(StepListener.Phase.METRICS_READ, mark);
            return new StepStats(loss, termValues, metricValues, gradNorm, null);
        } finally {
            long closing = System.nanoTime();
            stepManager.close();
            phase(StepListener.Phase.CLOSE, closing);
        }
    }

    /**
     * Back-propagates each weighted loss term on its own, for a gradient policy (train.gradient): the terms
     * share the step's forward pass, so every backward pass but the last keeps the graph (PyTorch's
     * retain_graph; DJL's collector frees it). Returns each term's gradients, in the optimiser's parameter
     * order (null where the term wrote none), and leaves the optimiser's gradients zero.
     */
    private static List<List<NDArray>> backwardPerTerm(List<NDArray> weightedTerms, AdamW optimizer) {
        List<List<NDArray>> perTerm = new ArrayList<>();
        for (int k = 0; k < weightedTerms.size(); k++) {
            ai.djl.pytorch.engine.PtNDArray term = (ai.djl.pytorch.engine.PtNDArray) weightedTerms.get(k);
            // A term that no parameter reaches has no graph (JniUtils.requiresGrad is false on non-leaves too).
            if (!ai.djl.pytorch.jni.JniUtils.getGradientFunctionNames(term).isEmpty()
                    || ai.djl.pytorch.jni.JniUtils.requiresGrad(term)) {
                try (NDArray ones = term.onesLike()) {
                    ai.djl.pytorch.jni.JniUtils.backward(term, (ai.djl.pytorch.engine.PtNDArray) ones,
                            k < weightedTerms.size() - 1, false);
                }
            }
            perTerm.add(optimizer.takeGradients());
        }
        return perTerm;
    }

    /**
     * Hands the per-term gradients to the run's gradient policy and writes its combined gradient where the
     * optimiser reads it; returns the policy's metrics. A term's gradient of a parameter it does not read (a
     * tower its loss does not name, another loss's parameter) is handed over as null.
     */
    private Map<String, Double> combineGradients(List<List<NDArray>> termGradients, AdamW optimizer, StepContext context) {
        if (termLayout == null) {
            termLayout = TermLayout.of(plan, optimizer.parameters());
        }
        List<List<NDArray>> reached = new ArrayList<>();
        for (int k = 0; k < termGradients.size(); k++) {
            boolean[] reads = termLayout.reads().get(k);
            List<NDArray> gradients = new ArrayList<>(reads.length);
            for (int p = 0; p < reads.length; p++) {
                gradients.add(reads[p] ? termGradients.get(k).get(p) : null);
            }
            reached.add(gradients);
        }
        String type = plan.spec().train().gradient().type();
        GradientCombiner.Combined combined;
        try {
            combined = plan.gradient().combine(new GradientCombiner.TermGradients(termLayout.terms(),
                    termLayout.parameters(), reached), context);
            optimizer.putGradients(combined.gradients());
        } catch (RuntimeException e) {
            throw new RunFailure("the gradient policy '" + type + "' " + pluginOf(ComponentKind.GRADIENT_COMBINER, type)
                    + "failed at step " + context.step() + ": " + e, e);
        }
        return combined.metrics();
    }

    /**
     * What a gradient policy is told besides the gradients, fixed for a run: the loss terms' names, the
     * optimiser's parameters' names (tower/parameter or loss:name/parameter), and which parameters each term reads
     * (its towers' and its own; a term's gradient of any other parameter is handed over as null).
     */
    private record TermLayout(List<String> terms, List<String> parameters, List<boolean[]> reads) {

        static TermLayout of(RunPlan plan, List<Parameter> optimised) {
            Map<Parameter, String> towerOf = new java.util.IdentityHashMap<>();
            Map<Parameter, String> names = new java.util.IdentityHashMap<>();
            for (Tower tower : plan.towers()) {
                for (Pair<String, Parameter> entry : tower.encoder().block().getParameters()) {
                    towerOf.put(entry.getValue(), tower.name());
                    names.put(entry.getValue(), tower.name() + "/" + entry.getKey());
                }
            }
            Map<Parameter, WeightedLoss> lossOf = new java.util.IdentityHashMap<>();
            for (WeightedLoss weighted : plan.losses()) {
                for (Parameter parameter : weighted.loss().parameters()) {
                    lossOf.put(parameter, weighted);
                    names.put(parameter, "loss:" + weighted.name() + "/" + parameter.getName());
                }
            }
            List<boolean[]> reads = new ArrayList<>();
            for (WeightedLoss weighted : plan.losses()) {
                boolean[] termReads = new boolean[optimised.size()];
                for (int p = 0; p < termReads.length; p++) {
                    Parameter parameter = optimised.get(p);
                    termReads[p] = lossOf.containsKey(parameter) ? lossOf.get(parameter) == weighted
                            : weighted.towers().contains(towerOf.get(parameter));
                }
                reads.add(termReads);
            }
            return new TermLayout(plan.losses().stream().map(WeightedLoss::name).toList(),
                    optimised.stream().map(p -> names.getOrDefault(p, p.getName())).toList(), reads);
        }
    }

    /** Adds the time since {@code since} to {@code phase} of this step; returns now. */
    private long phase(StepListener.Phase phase, long since) {
        long now = System.nanoTime();
        phases[phase.ordinal()] += now - since;
        return now;
    }

    private LossOutput computeLoss(WeightedLoss weighted, EncodedBatch encoded, StepContext context) {
        try {
            LossOutput output = weighted.loss().compute(encoded, context);
            if (!output.value().getShape().isScalar()) {
                throw new RunFailure("loss '" + weighted.name() + "' " + pluginOf(ComponentKind.LOSS, lossType(weighted))
                        + "returned shape " + output.value().getShape() + " instead of a scalar; this is a bug in its plugin");
            }
            return output;
        } catch (RunFailure e) {
            throw e;
        } catch (RuntimeException e) {
            throw new RunFailure("loss '" + weighted.name() + "' " + pluginOf(ComponentKind.LOSS, lossType(weighted))
                    + "failed at step " + context.step() + ": " + e, e);
        }
    }

    /**
     * What a loss may encode itself during a step (API 1.3): the batch's raw values, and values it makes from them
     * (hard negatives) decoded by a tower's modality and encoded by its encoder with gradients, in the step's manager.
     */
    private BatchEncoder batchEncoder(DataLoader.Batch batch, ParameterStore parameters, NDManager stepManager,
            boolean training) {
        return new BatchEncoder() {
            @Override
            public List<Object> rawValues(String tower) {
                List<Object> values = batch.raw().get(tower);
                if (values == null) {
                    throw new IllegalArgumentException("no raw values of tower '" + tower + "' in this batch; towers: "
                            + batch.raw().keySet());
                }
                return values;
            }

            @Override
            @SuppressWarnings("unchecked")
            public TowerOutput encode(String towerName, List<?> rawValues) {
                Tower tower = towerToEncode(towerName, rawValues);
                List<Object> examples = decoded(tower, rawValues, 0, rawValues.size(), "a loss gave");
                NDList out = tower.encoder().block().forward(parameters,
                        ((Modality<Object>) tower.modality()).collate(examples, stepManager), training);
                return out.size() >= 3 ? new TowerOutput(out.get(0), out.get(1), out.get(2)) : new TowerOutput(out.get(0));
            }
        };
    }

    private EncodedBatch encode(DataLoader.Batch batch, ParameterStore parameters, boolean training) {
        Map<String, TowerOutput> outputs = new LinkedHashMap<>();
        for (Tower tower : plan.towers()) {
            boolean fixed = FrozenEmbeddings.covers(tower);
            if (fixed) {
                TowerOutput held = frozenEmbeddings.lookup(tower.name(), batch.raw().get(tower.name()), batch.manager());
                if (held != null) {
                    outputs.put(tower.name(), held);
                    continue;
                }
            }
            NDList out;
            try {
                // A frozen tower encodes in inference mode (no dropout, no batch statistics): a fixed function.
                out = tower.encoder().block().forward(parameters, batch.inputs().get(tower.name()), training && !fixed);
            } catch (RuntimeException e) {
                throw new RunFailure("the encoder of tower '" + tower.name() + "' " + pluginOf(ComponentKind.ENCODER,
                        plan.spec().towers().get(tower.name()).encoder().type()) + "failed: " + e, e);
            }
            if (tower.isMomentum()) {
                // A momentum tower encodes without gradient (MoCo's keys); its weights are frozen besides.
                out = new NDList(out.stream().map(NDArray::stopGradient).toList());
            }
            TowerOutput output = out.size() >= 3 ? new TowerOutput(out.get(0), out.get(1), out.get(2))
                    : new TowerOutput(out.get(0));
            if (fixed) {
                frozenEmbeddings.store(tower.name(), batch.raw().get(tower.name()), output);
            }
            outputs.put(tower.name(), output);
        }
        // The inputs too, for losses that score them (a captioner's target tokens, masked patches): API 1.3.
        return new EncodedBatch(outputs, batch.labels(), batch.groups(), batch.inputs());
    }

    /**
     * Says where a non-finite loss comes from: a tower's input (the data), a tower's embedding (the encoder),
     * or the loss terms themselves; checked only once the loss is not finite, so it costs nothing otherwise.
     */
    private String nonFiniteLoss(long step, DataLoader.Batch batch, EncodedBatch encoded, Map<String, NDArray> terms) {
        StringBuilder which = new StringBuilder();
        terms.forEach((name, value) -> which.append(which.length() == 0 ? "" : ", ").append(name).append(" = ")
                .append(scalar(value)));
        List<String> causes = new ArrayList<>();
        for (Tower tower : plan.towers()) {
            long bad = 0;
            for (NDArray input : batch.inputs().get(tower.name())) {
                bad += nonFiniteCount(input);
            }
            if (bad > 0) {
                causes.add("the input of tower '" + tower.name() + "' holds " + bad + " NaN or infinite value" + (bad == 1 ? "" : "s")
                        + " (check the data it reads, field '" + tower.field() + "')");
            }
        }
        if (causes.isEmpty()) {
            for (Tower tower : plan.towers()) {
                if (nonFiniteCount(encoded.tower(tower.name()).embedding()) > 0) {
                    causes.add("the embedding of tower '" + tower.name() + "' " + pluginOf(ComponentKind.ENCODER,
                            plan.spec().towers().get(tower.name()).encoder().type()) + "is not finite although its input is");
                }
            }
        }
        if (causes.isEmpty()) {
            for (WeightedLoss weighted : plan.losses()) {
                if (!Double.isFinite(scalar(terms.get(weighted.name())))) {
                    causes.add("loss '" + weighted.name() + "' " + pluginOf(ComponentKind.LOSS, lossType(weighted))
                            + "is not finite although every embedding is");
                }
            }
        }
        return "the loss is not finite at step " + step + " (" + which + ")" + (causes.isEmpty() ? "" : ": "
                + String.join("; ", causes));
    }

    /** How many elements of a floating-point array are NaN or infinite (0 for integer arrays: token ids, masks). */
    private static long nonFiniteCount(NDArray array) {
        if (!array.getDataType().isFloating()) {
            return 0;
        }
        NDArray bad = array.isNaN().logicalOr(array.isInfinite());
        return bad.toType(DataType.INT64, false).sum().getLong();
    }

    /** A scalar's value whatever its floating-point type (DJL promotes some scalar arithmetic to float64). */
    static double scalar(NDArray array) {
        return array.toType(DataType.FLOAT64, false).getDouble();
    }

    /** Names the parameters whose gradients are not finite, with the tower or loss that owns them. */
    private String nonFiniteParameters(AdamW optimizer) {
        Map<Parameter, String> owners = new java.util.IdentityHashMap<>();
        for (Tower tower : plan.towers()) {
            tower.encoder().block().getParameters().forEach(e -> owners.put(e.getValue(), "tower '" + tower.name() + "' "
                    + e.getKey()));
        }
        plan.losses().forEach(loss -> loss.loss().parameters().forEach(p -> owners.put(p, "loss '" + loss.name() + "' "
                + p.getName())));
        List<String> bad = new ArrayList<>();
        List<NDArray> gradients = optimizer.gradients();
        List<Parameter> parameters = optimizer.parameters();
        for (int i = 0; i < gradients.size(); i++) {
            double largest = scalar(gradients.get(i).abs().max());
            if (!Double.isFinite(largest) || largest > 1e15) {
                bad.add(owners.getOrDefault(parameters.get(i), parameters.get(i).getName()) + " (max |grad| " + largest + ")");
            }
        }
        return bad.size() <= 4 ? String.join(", ", bad) : String.join(", ", bad.subList(0, 4)) + " and " + (bad.size() - 4)
                + " more";
    }

    /** "(plugin clip 0.1.0) " for a component of that plugin, or "" when it cannot be told. */
    private String pluginOf(ComponentKind kind, String type) {
        return registry.find(kind, type).map(c -> "(plugin " + c.plugin().name() + " " + c.plugin().version() + ") ")
                .orElse("");
    }

    private String lossType(WeightedLoss weighted) {
        int index = plan.losses().indexOf(weighted);
        return index >= 0 && index < plan.spec().losses().size() ? plan.spec().losses().get(index).loss().type() : "";
    }

    private String evaluatorType(String name) {
        List<NamedEvaluator> evaluators = plan.evaluators();
        for (int i = 0; i < evaluators.size() && i < plan.spec().evaluate().size(); i++) {
            if (evaluators.get(i).name().equals(name)) {
                return plan.spec().evaluate().get(i).evaluator().type();
            }
        }
        return "";
    }

    private void logStep(TrackedRun run, long step, StepStats stats, double lr, double samplesPerSecond) {
        run.logMetric("train/loss", stats.loss(), step);
        if (stats.terms().size() > 1 || plan.losses().get(0).weight() != 1.0) {
            stats.terms().forEach((name, value) -> run.logMetric("train/loss/" + name, value, step));
        }
        stats.metrics().forEach((name, value) -> run.logMetric("train/" + name, value, step));
        run.logMetric("train/lr", lr, step);
        run.logMetric("train/grad_norm", stats.gradNorm(), step);
        run.logMetric("train/samples_per_sec", samplesPerSecond, step);
    }

    /** Encodes the evaluation set with every tower and runs {@code evaluators} on it, logging at {@code step}. */
    private void evaluate(TrackedRun run, NDManager root, ParameterStore parameters, List<NDArray> lent, long step,
            List<NamedEvaluator> evaluators, Map<String, Double> metrics, Map<String, String> failures) {
        TrainSpec train = plan.spec().train();
        try (NDManager evalManager = root.newSubManager();
                DataLoader loader = new DataLoader(plan.eval().source(), plan.eval().towersReading(plan.towers()),
                        plan.eval().labelField(),
                        train.batchSize(), plan.spec().seed(), false, false, train.workers(), root)
                        .skippingBadRecords(skipping(train))) {
            Map<String, List<NDArray>> embeddings = new LinkedHashMap<>();
            Map<String, List<NDArray>> tokens = new LinkedHashMap<>();
            Map<String, List<NDArray>> masks = new LinkedHashMap<>();
            boolean keepTokens = evaluators.stream().anyMatch(e -> e.evaluator().needsTokens());
            plan.towers().forEach(t -> embeddings.put(t.name(), new ArrayList<>()));
            List<NDArray> labels = new ArrayList<>();
            List<String> groups = new ArrayList<>();
            Map<String, List<Object>> raw = new LinkedHashMap<>();
            Iterator<DataLoader.Batch> batches = loader.epoch(0, 0);
            while (batches.hasNext()) {
                try (DataLoader.Batch batch = batches.next(); NDManager stepManager = batch.manager().newSubManager()) {
                    lent.forEach(stepManager::tempAttachAll);
                    EncodedBatch encoded = encode(batch, parameters, false);
                    encoded.towers().forEach((name, output) -> {
                        NDArray embedding = output.embedding().stopGradient();
                        embedding.attach(evalManager);
                        embeddings.get(name).add(embedding);
                        if (keepTokens && output.tokens() != null) {
                            NDArray features = output.tokens().stopGradient();
                            NDArray mask = output.tokenMask() != null ? output.tokenMask()
                                    : features.getManager().ones(new ai.djl.ndarray.types.Shape(
                                            features.getShape().get(0), features.getShape().get(1)));
                            features.attach(evalManager);
                            mask.attach(evalManager);
                            tokens.computeIfAbsent(name, n -> new ArrayList<>()).add(features);
                            masks.computeIfAbsent(name, n -> new ArrayList<>()).add(mask);
                        }
                    });
                    if (batch.labels() != null) {
                        batch.labels().attach(evalManager);
                        labels.add(batch.labels());
                    }
                    groups.addAll(batch.groups());
                    batch.raw().forEach((name, values) -> raw.computeIfAbsent(name, n -> new ArrayList<>()).addAll(values));
                }
            }
            Map<String, NDArray> encoded = new LinkedHashMap<>();
            embeddings.forEach((name, parts) -> encoded.put(name, NDArrays.concat(new NDList(parts))));
            Map<String, TowerOutput> tokenOutputs = new LinkedHashMap<>();
            tokens.forEach((name, parts) -> tokenOutputs.put(name, new TowerOutput(encoded.get(name),
                    concatPadded(parts), concatPadded(masks.get(name)))));
            NDArray labelArray = labels.isEmpty() ? null : NDArrays.concat(new NDList(labels));
            Path artifactDir = Files.createTempDirectory("modalign-eval");
            for (NamedEvaluator evaluator : evaluators) {
                try (NDManager evaluatorManager = evalManager.newSubManager()) {
                    Path dir = Files.createDirectories(artifactDir.resolve(evaluator.name()));
                    EvalResult result = evaluator.evaluator().evaluate(new RunEvalContext(evaluator.towers(), encoded,
                            tokenOutputs, labelArray, List.copyOf(groups), raw, evaluatorManager, dir, plan.spec().seed(),
                            (tower, values) -> encodeValues(tower, values, parameters, lent, evaluatorManager)));
                    result.metrics().forEach((name, value) -> {
                        String key = "eval/" + evaluator.name() + "/" + name;
                        metrics.put(key, value);
                        run.logMetric(key, value, step);
                    });
                    for (Path artifact : result.artifacts()) {
                        run.logArtifact(artifact, "eval/" + evaluator.name() + "/" + dir.relativize(artifact));
                    }
                } catch (RuntimeException e) {
                    failures.put(evaluator.name(), e.toString());
                    out.println("warning: evaluator '" + evaluator.name() + "' " + pluginOf(ComponentKind.EVALUATOR,
                            evaluatorType(evaluator.name())) + "failed, the others go on: " + e);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Concatenates per-batch token features [b, T_k, D] (or masks [b, T_k]) along the records, each padded
     * with zeros to the longest T_k first: a modality pads each batch to its own longest sequence, and a
     * zero mask marks the added positions as padding.
     */
    static NDArray concatPadded(List<NDArray> parts) {
        long longest = 0;
        for (NDArray part : parts) {
            longest = Math.max(longest, part.getShape().get(1));
        }
        NDList padded = new NDList();
        for (NDArray part : parts) {
            long missing = longest - part.getShape().get(1);
            if (missing == 0) {
                padded.add(part);
                continue;
            }
            long[] dims = part.getShape().getShape().clone();
            dims[1] = missing;
            NDArray zeros = part.getManager().zeros(new ai.djl.ndarray.types.Shape(dims), part.getDataType(),
                    part.getDevice());
            padded.add(part.concat(zeros, 1));
        }
        return padded.size() == 1 ? padded.get(0) : NDArrays.concat(padded);
    }

    /** Decodes values with a tower's modality and encodes them with its trained encoder, in chunks of a batch. */
    /** The tower that is asked to encode {@code values} (for a loss or an evaluator), checked. */
    private Tower towerToEncode(String towerName, List<?> values) {
        Tower tower = plan.towers().stream().filter(t -> t.name().equals(towerName)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no tower '" + towerName + "'; towers: "
                        + plan.towers().stream().map(Tower::name).toList()));
        if (values.isEmpty()) {
            throw new IllegalArgumentException("nothing to encode with tower '" + towerName + "'");
        }
        return tower;
    }

    /** Values {@code from} to {@code to} decoded by the tower's modality; a bad one is named "value i <how> tower". */
    @SuppressWarnings("unchecked")
    private static List<Object> decoded(Tower tower, List<?> values, int from, int to, String how) {
        Modality<Object> modality = (Modality<Object>) tower.modality();
        List<Object> examples = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
            examples.add(modality.decode(values.get(i), "value " + i + " " + how + " tower '" + tower.name() + "'"));
        }
        return examples;
    }

    private NDArray encodeValues(String towerName, List<?> values, ParameterStore parameters, List<NDArray> lent,
            NDManager owner) {
        Tower tower = towerToEncode(towerName, values);
        @SuppressWarnings("unchecked")
        Modality<Object> modality = (Modality<Object>) tower.modality();
        int chunk = plan.spec().train().batchSize();
        List<NDArray> parts = new ArrayList<>();
        for (int start = 0; start < values.size(); start += chunk) {
            List<Object> examples = decoded(tower, values, start, Math.min(values.size(), start + chunk), "given to");
            try (NDManager scope = owner.newSubManager(device)) {
                lent.forEach(scope::tempAttachAll);
                NDList input = modality.collate(examples, scope);
                NDArray embedding = tower.encoder().block().forward(parameters, input, false).get(0).stopGradient();
                embedding.attach(owner);
                parts.add(embedding);
            }
        }
        return parts.size() == 1 ? parts.get(0) : NDArrays.concat(new NDList(parts));
    }

    /**
     * Logs the final model as the run's artifacts: each tower's parameters in DJL's format ({@code
     * checkpoint/<tower>.params}, loadable by {@code Block.loadParameters}) and each loss's parameters; for a
     * tracking server also the final resumable checkpoint ({@code checkpoint/resumable/}), which the embedded
     * store already holds in the run's directory.
     */
    private void saveFinalArtifacts(TrackedRun run, Checkpoint last) {
        try {
            Path dir = Files.createTempDirectory("modalign-checkpoint");
            try {
                for (Tower tower : plan.towers()) {
                    Path file = dir.resolve(tower.name() + ".params");
                    writeFile(file, stream -> tower.encoder().block().saveParameters(stream));
                    run.logArtifact(file, "checkpoint/" + file.getFileName());
                }
                for (WeightedLoss loss : plan.losses()) {
                    if (!loss.loss().parameters().isEmpty()) {
                        Path file = dir.resolve("loss-" + loss.name() + ".params");
                        writeFile(file, stream -> {
                            for (Parameter parameter : loss.loss().parameters()) {
                                parameter.save(stream);
                            }
                        });
                        run.logArtifact(file, "checkpoint/" + file.getFileName());
                    }
                }
                if (!(tracker instanceof LocalTracker)) {
                    for (String name : last.manifest().files().keySet()) {
                        run.logArtifact(last.dir().resolve(name), "checkpoint/resumable/" + name);
                    }
                    run.logArtifact(last.dir().resolve(Checkpoint.MANIFEST), "checkpoint/resumable/" + Checkpoint.MANIFEST);
                }
            } finally {
                Checkpoint.deleteTree(dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the checkpoint: " + e.getMessage(), e);
        }
    }

    private interface StreamWriter {
        void write(DataOutputStream stream) throws IOException;
    }

    private static void writeFile(Path file, StreamWriter writer) throws IOException {
        try (OutputStream raw = Files.newOutputStream(file); DataOutputStream stream = new DataOutputStream(
                new java.io.BufferedOutputStream(raw))) {
            writer.write(stream);
        }
    }
}
