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
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.EvalResult;
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
import dev.modalign.core.UserError;
import dev.modalign.core.compose.Resolved;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.compose.RunPlan.NamedEvaluator;
import dev.modalign.core.compose.RunPlan.WeightedLoss;
import dev.modalign.core.compose.Tower;
import dev.modalign.core.config.ExperimentSpec;
import dev.modalign.core.config.ExperimentSpec.TrainSpec;
import jakarta.inject.Inject;
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
 * it: parameters, gradients and optimiser state are lent to that manager for the step.
 */
public final class Trainer {

    private final RunPlan plan;
    private final Tracker tracker;
    private final DataErrors skipped = new DataErrors();
    private final Device device;
    private final PrintStream out;
    private final Provenance provenance;

    private StepListener listener = time -> { };

    @Inject
    public Trainer(RunPlan plan, Tracker tracker, Device device, PrintStream out, Provenance provenance) {
        this.plan = plan;
        this.tracker = tracker;
        this.device = device;
        this.out = out;
        this.provenance = provenance;
    }

    /** Tells {@code listener} the timing of every training step (the benchmark's clock); replaces any earlier one. */
    public Trainer listening(StepListener listener) {
        this.listener = listener;
        return this;
    }

    /** Runs training and evaluation; the run is marked FINISHED, or FAILED with the error, in the tracker. */
    public RunResult run() {
        ExperimentSpec spec = plan.spec();
        String experiment = spec.tracking().experiment() != null ? spec.tracking().experiment() : spec.name();
        String runName = spec.tracking().runName() != null ? spec.tracking().runName()
                : spec.name() + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("MMdd-HHmmss"));
        TrackedRun run = tracker.startRun(new RunSpec(experiment, runName, null));
        out.println("run " + run.id() + " (" + runName + ") recording to " + run.location());
        java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
        // Ctrl-C or a TERM signal: the run is marked KILLED and its tracker flushes what it can (or keeps it for sync).
        Thread onSignal = new Thread(() -> {
            if (ended.compareAndSet(false, true)) {
                run.end(RunStatus.KILLED, "stopped by a signal (Ctrl-C or TERM) during the run");
                tracker.close();
            }
        }, "modalign-run-killed");
        Runtime.getRuntime().addShutdownHook(onSignal);
        try {
            record(run);
            RunResult result = trainAndEvaluate(run);
            if (ended.compareAndSet(false, true)) {
                run.end(RunStatus.FINISHED, null);
            }
            return result;
        } catch (RuntimeException | Error e) {
            if (ended.compareAndSet(false, true)) {
                run.end(RunStatus.FAILED, e.getMessage() == null ? e.toString() : e.getMessage());
            }
            throw e;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(onSignal);
            } catch (IllegalStateException shuttingDown) {
                // The JVM is already shutting down; the hook runs (or ran) and ends the run.
            }
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

    private RunResult trainAndEvaluate(TrackedRun run) {
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
            NDManager model = root.newSubManager();
            Iterator<DataLoader.Batch> batches = loader.epoch(0, 0);
            DataLoader.Batch first = batches.next();
            List<Parameter> trainable = initialise(model, first);
            AdamW optimizer = new AdamW(trainable, train.optimizer(), model, train.threads());
            List<NDArray> fixed = allParameters().stream().filter(p -> !trainable.contains(p)).map(Parameter::getArray).toList();
            CosineSchedule schedule = CosineSchedule.of(train.optimizer().lr(), total, train.warmup(), train.minLrRatio());
            ParameterStore parameters = optimizer.parameterStore(model);
            out.printf("training %d steps (%d epochs x %d batches of %d) on %s, %d parameters%n", total, train.epochs(),
                    perEpoch, train.batchSize(), device, trainable.stream().mapToLong(p -> p.getArray().size()).sum());

            Progress progress = new Progress(System.err, Progress.isTerminal(), total);
            long step = 0;
            double lastLoss = Double.NaN;
            long started = System.nanoTime();
            long windowStart = started;
            long windowSamples = 0;
            int leakChecks = 0;
            int managedBefore = 0;
            long waitedForData = 0;
            long spentLogging = 0;
            training:
            for (int epoch = 0; epoch < train.epochs(); epoch++) {
                Iterator<DataLoader.Batch> epochBatches = epoch == 0 ? prepend(first, batches) : loader.epoch(epoch, 0);
                while (epochBatches.hasNext()) {
                    if (step >= total) {
                        break training;
                    }
                    long asked = System.nanoTime();
                    DataLoader.Batch next = epochBatches.next();
                    long dataWait = System.nanoTime() - asked;
                    waitedForData += dataWait;
                    long loggedBefore = spentLogging;
                    int samples = next.size();
                    try (DataLoader.Batch batch = next) {
                        double lr = schedule.at(step);
                        StepStats stats = step(batch, parameters, optimizer, lent(optimizer, fixed), lr, step, epoch, total,
                                train);
                        lastLoss = stats.loss();
                        windowSamples += batch.size();
                        if (step % train.logEvery() == 0 || step == total - 1) {
                            long now = System.nanoTime();
                            double samplesPerSecond = windowSamples / Math.max(1e-9, (now - windowStart) / 1e9);
                            logStep(run, step, stats, lr, samplesPerSecond);
                            spentLogging += System.nanoTime() - now;
                            windowStart = now;
                            windowSamples = 0;
                        }
                        progress.update(step, stats.loss(), batch.size() * (step + 1) / Math.max(1e-9,
                                (System.nanoTime() - started) / 1e9));
                    }
                    listener.stepTimed(new StepListener.StepTime(step, samples, asked, System.nanoTime(), dataWait,
                            spentLogging - loggedBefore));
                    if (step == 1 || step == 3) {
                        int managed = model.getManagedArrays().size();
                        if (leakChecks++ == 1 && managed > managedBefore) {
                            out.println("warning: " + (managed - managedBefore) / 2 + " arrays per step are left in the model's"
                                    + " manager by a component; memory will grow during the run");
                        }
                        managedBefore = managed;
                    }
                    step++;
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
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            run.logMetric("train/steps_per_sec", step / seconds, step);
            // What the step waited for that is not the model: the loader and the tracker (both should be near zero).
            double dataShare = waitedForData / 1e9 / seconds;
            double trackingShare = spentLogging / 1e9 / seconds;
            run.logMetric("train/data_wait_share", dataShare, step);
            run.logMetric("train/tracking_share", trackingShare, step);
            out.printf("share of training time waiting for data %.2f%%, logging %.3f%% (%.1f us/step)%n",
                    100 * dataShare, 100 * trackingShare,
                    step == 0 ? 0.0 : spentLogging / 1e3 / step);
            Map<String, Double> metrics = new LinkedHashMap<>();
            Map<String, String> failures = new LinkedHashMap<>();
            if (plan.eval() != null && !plan.evaluators().isEmpty()) {
                evaluate(run, root, parameters, lent(optimizer, fixed), step, plan.evaluators(), metrics, failures);
            }
            if (skipped.count() > 0) {
                out.println(skipped.summary());
                run.logMetric("data/skipped_records", skipped.count(), step);
            }
            saveCheckpoint(run);
            return new RunResult(run.id(), run.location(), step, seconds, step / seconds, lastLoss, metrics, failures);
        }
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

    private List<Parameter> allParameters() {
        List<Parameter> all = new ArrayList<>();
        for (Tower tower : plan.towers()) {
            tower.encoder().block().getParameters().forEach(entry -> all.add(entry.getValue()));
        }
        plan.losses().forEach(loss -> all.addAll(loss.loss().parameters()));
        return all;
    }

    private record StepStats(double loss, Map<String, Double> terms, Map<String, Double> metrics, double gradNorm) {}

    private StepStats step(DataLoader.Batch batch, ParameterStore parameters, AdamW optimizer, List<NDArray> lent,
            double lr, long step, int epoch, long total, TrainSpec train) {
        try (NDManager stepManager = batch.manager().newSubManager()) {
            lent.forEach(stepManager::tempAttachAll);
            StepContext context = new StepContext(step, epoch, total, new Random(DataLoader.mix(plan.spec().seed(), step, -2, -2)),
                    stepManager, true);
            Map<String, NDArray> terms = new LinkedHashMap<>();
            Map<String, NDArray> metrics = new LinkedHashMap<>();
            EncodedBatch encoded;
            double loss;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                encoded = encode(batch, parameters, true);
                NDArray sum = null;
                for (WeightedLoss weighted : plan.losses()) {
                    LossOutput output = computeLoss(weighted, encoded, context);
                    terms.put(weighted.name(), output.value());
                    output.metrics().forEach((name, value) -> metrics.put(weighted.name() + "/" + name, value));
                    NDArray term = weighted.weight() == 1.0 ? output.value() : Scalars.mul(output.value(), weighted.weight());
                    sum = sum == null ? term : sum.add(term);
                }
                loss = scalar(sum);
                if (!Double.isFinite(loss)) {
                    throw nonFinite(step, terms);
                }
                collector.backward(sum);
            }
            double gradNorm = gradientNorm(optimizer, step);
            double maxNorm = train.gradClip();
            // Clipping the global norm ("On the difficulty of training recurrent neural networks", Pascanu et
            // al., 2013) scales the gradients; the optimiser applies the scale as it reads them.
            optimizer.step(lr, maxNorm > 0 && gradNorm > maxNorm ? (float) (maxNorm / (gradNorm + 1e-6)) : 1f);
            optimizer.zeroGradients();
            for (WeightedLoss weighted : plan.losses()) {
                weighted.loss().afterStep(encoded, context);
            }
            boolean logging = step % train.logEvery() == 0 || step == total - 1;
            Map<String, Double> termValues = new LinkedHashMap<>();
            Map<String, Double> metricValues = new LinkedHashMap<>();
            if (logging) {
                terms.forEach((name, value) -> termValues.put(name, scalar(value)));
                metrics.forEach((name, value) -> metricValues.put(name, scalar(value)));
            }
            return new StepStats(loss, termValues, metricValues, gradNorm);
        }
    }

    private LossOutput computeLoss(WeightedLoss weighted, EncodedBatch encoded, StepContext context) {
        try {
            LossOutput output = weighted.loss().compute(encoded, context);
            if (!output.value().getShape().isScalar()) {
                throw new RunFailure("loss '" + weighted.name() + "' returned shape " + output.value().getShape()
                        + " instead of a scalar; this is a bug in its plugin");
            }
            return output;
        } catch (RunFailure e) {
            throw e;
        } catch (RuntimeException e) {
            throw new RunFailure("loss '" + weighted.name() + "' failed at step " + context.step() + ": " + e, e);
        }
    }

    private EncodedBatch encode(DataLoader.Batch batch, ParameterStore parameters, boolean training) {
        Map<String, TowerOutput> outputs = new LinkedHashMap<>();
        for (Tower tower : plan.towers()) {
            NDList out;
            try {
                out = tower.encoder().block().forward(parameters, batch.inputs().get(tower.name()), training);
            } catch (RuntimeException e) {
                throw new RunFailure("the encoder of tower '" + tower.name() + "' failed: " + e, e);
            }
            outputs.put(tower.name(), out.size() >= 3 ? new TowerOutput(out.get(0), out.get(1), out.get(2))
                    : new TowerOutput(out.get(0)));
        }
        return new EncodedBatch(outputs, batch.labels());
    }

    private RunFailure nonFinite(long step, Map<String, NDArray> terms) {
        StringBuilder which = new StringBuilder();
        terms.forEach((name, value) -> which.append(which.length() == 0 ? "" : ", ").append(name).append(" = ")
                .append(scalar(value)));
        return new RunFailure("the loss is not finite at step " + step + " (" + which + "); lower optimizer.lr, "
                + "check the data for NaN or Inf, or lower a loss's temperature bound");
    }

    /** The global gradient norm (in float64), which must be finite. */
    private double gradientNorm(AdamW optimizer, long step) {
        double norm = optimizer.gradientNorm();
        if (!Double.isFinite(norm)) {
            throw new RunFailure("the gradients are not finite at step " + step + " although the loss is, in "
                    + nonFiniteParameters(optimizer) + "; lower optimizer.lr, or look for a division by a norm that can be 0");
        }
        return norm;
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
            plan.towers().forEach(t -> embeddings.put(t.name(), new ArrayList<>()));
            List<NDArray> labels = new ArrayList<>();
            List<String> groups = new ArrayList<>();
            Iterator<DataLoader.Batch> batches = loader.epoch(0, 0);
            while (batches.hasNext()) {
                try (DataLoader.Batch batch = batches.next(); NDManager stepManager = batch.manager().newSubManager()) {
                    lent.forEach(stepManager::tempAttachAll);
                    EncodedBatch encoded = encode(batch, parameters, false);
                    encoded.towers().forEach((name, output) -> {
                        NDArray embedding = output.embedding().stopGradient();
                        embedding.attach(evalManager);
                        embeddings.get(name).add(embedding);
                    });
                    if (batch.labels() != null) {
                        batch.labels().attach(evalManager);
                        labels.add(batch.labels());
                    }
                    groups.addAll(batch.groups());
                }
            }
            Map<String, NDArray> encoded = new LinkedHashMap<>();
            embeddings.forEach((name, parts) -> encoded.put(name, NDArrays.concat(new NDList(parts))));
            NDArray labelArray = labels.isEmpty() ? null : NDArrays.concat(new NDList(labels));
            Path artifactDir = Files.createTempDirectory("modalign-eval");
            for (NamedEvaluator evaluator : evaluators) {
                try (NDManager evaluatorManager = evalManager.newSubManager()) {
                    Path dir = Files.createDirectories(artifactDir.resolve(evaluator.name()));
                    EvalResult result = evaluator.evaluator().evaluate(new RunEvalContext(evaluator.towers(), encoded,
                            labelArray, List.copyOf(groups), evaluatorManager, dir, plan.spec().seed(),
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
                    out.println("warning: evaluator '" + evaluator.name() + "' failed, the others go on: " + e);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Decodes values with a tower's modality and encodes them with its trained encoder, in chunks of a batch. */
    private NDArray encodeValues(String towerName, List<?> values, ParameterStore parameters, List<NDArray> lent,
            NDManager owner) {
        Tower tower = plan.towers().stream().filter(t -> t.name().equals(towerName)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no tower '" + towerName + "'; towers: "
                        + plan.towers().stream().map(Tower::name).toList()));
        if (values.isEmpty()) {
            throw new IllegalArgumentException("nothing to encode with tower '" + towerName + "'");
        }
        @SuppressWarnings("unchecked")
        Modality<Object> modality = (Modality<Object>) tower.modality();
        int chunk = plan.spec().train().batchSize();
        List<NDArray> parts = new ArrayList<>();
        for (int start = 0; start < values.size(); start += chunk) {
            List<Object> examples = new ArrayList<>();
            for (int i = start; i < Math.min(values.size(), start + chunk); i++) {
                examples.add(modality.decode(values.get(i), "value " + i + " given to tower '" + towerName + "'"));
            }
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

    /** Writes every tower's and loss's parameters, one file each, and logs them as the run's checkpoint. */
    private void saveCheckpoint(TrackedRun run) {
        try {
            Path dir = Files.createTempDirectory("modalign-checkpoint");
            for (Tower tower : plan.towers()) {
                Path file = dir.resolve(tower.name() + ".params");
                writeAtomically(file, stream -> tower.encoder().block().saveParameters(stream));
                run.logArtifact(file, "checkpoint/" + file.getFileName());
            }
            for (WeightedLoss loss : plan.losses()) {
                if (!loss.loss().parameters().isEmpty()) {
                    Path file = dir.resolve("loss-" + loss.name() + ".params");
                    writeAtomically(file, stream -> {
                        for (Parameter parameter : loss.loss().parameters()) {
                            parameter.save(stream);
                        }
                    });
                    run.logArtifact(file, "checkpoint/" + file.getFileName());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the checkpoint: " + e.getMessage(), e);
        }
    }

    private interface StreamWriter {
        void write(DataOutputStream stream) throws IOException;
    }

    private static void writeAtomically(Path file, StreamWriter writer) throws IOException {
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        try (OutputStream raw = Files.newOutputStream(temporary); DataOutputStream stream = new DataOutputStream(raw)) {
            writer.write(stream);
        }
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
