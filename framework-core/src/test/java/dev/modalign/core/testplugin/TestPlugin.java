package dev.modalign.core.testplugin;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Encoder;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Modality;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.Scalars;
import dev.modalign.api.VectorSpec;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Small but real components for core's tests: paired Gaussian vectors, a vector modality, a linear
 * encoder, a cosine alignment loss (which can be told to produce NaN at a step) and an evaluator
 * (which can be told to fail).
 */
public final class TestPlugin implements Plugin {

    @Override
    public String name() {
        return "core-test";
    }

    @Override
    public String version() {
        return "1.2.3";
    }

    @Override
    public String apiVersion() {
        return ModalignApi.VERSION;
    }

    @Override
    public List<ComponentFactory<?, DatasetSource>> datasetSources() {
        return List.of(ComponentFactory.of("pairs", "Paired Gaussian vectors: b is a fixed rotation of a plus noise.",
                Pairs.Params.class, (p, c) -> new Pairs(p)));
    }

    @Override
    public List<ComponentFactory<?, Modality<?>>> modalities() {
        return List.of(ComponentFactory.of("vector", "Fixed-size float vectors.", VectorModality.Params.class,
                (p, c) -> new VectorModality(p.size())));
    }

    @Override
    public List<ComponentFactory<?, Encoder>> encoders() {
        return List.of(ComponentFactory.of("linear", "One linear layer.", LinearEncoder.Params.class,
                (p, c) -> new LinearEncoder(p.embedDim())));
    }

    @Override
    public List<ComponentFactory<?, Loss>> losses() {
        return List.of(ComponentFactory.of("align", "Mean cosine distance between paired rows.", AlignLoss.Params.class,
                (p, c) -> {
                    if (c.towers().size() != 2) {
                        throw new InvalidParamException("towers", "align reads exactly two towers, found " + c.towers());
                    }
                    return new AlignLoss(p, c.towers(), c.seed());
                }));
    }

    @Override
    public List<ComponentFactory<?, Evaluator>> evaluators() {
        return List.of(ComponentFactory.of("mean-cosine", "Mean cosine similarity of paired rows.", MeanCosine.Params.class,
                (p, c) -> new MeanCosine(p.fail())));
    }

    @Override
    public List<ComponentFactory<?, dev.modalign.api.Tracker>> trackers() {
        return List.of(ComponentFactory.of("full", "A tracker whose disk fills up after a few records, for tests.",
                FullDiskTracker.Params.class, (p, c) -> new FullDiskTracker(p)));
    }

    @Override
    public List<ComponentFactory<?, dev.modalign.api.GradientCombiner>> gradientCombiners() {
        return List.of(ComponentFactory.of("mix", "A fixed linear mix of the loss terms' gradients, for tests.",
                Mix.Params.class, (p, c) -> new Mix(p)));
    }

    /**
     * Combines the per-term gradients as sum_k c_k g_k and keeps, for tests, what it was given and what it
     * returned at the last step (as float arrays, null where a term does not read a parameter).
     */
    public static final class Mix implements dev.modalign.api.GradientCombiner {
        public record Params(@Doc("One coefficient per loss term.") List<Double> coefficients) {}

        public static volatile List<String> lastTerms;
        public static volatile List<String> lastParameters;
        public static volatile List<List<float[]>> lastGiven;
        public static volatile List<float[]> lastReturned;
        public static final java.util.concurrent.atomic.AtomicLong calls = new java.util.concurrent.atomic.AtomicLong();

        private final Params params;

        Mix(Params params) {
            this.params = params;
        }

        @Override
        public Combined combine(TermGradients gradients, dev.modalign.api.StepContext context) {
            List<List<float[]>> given = new java.util.ArrayList<>();
            for (List<NDArray> term : gradients.gradients()) {
                List<float[]> copies = new java.util.ArrayList<>();
                term.forEach(g -> copies.add(g == null ? null : g.toFloatArray()));
                given.add(copies);
            }
            List<NDArray> out = new java.util.ArrayList<>();
            List<float[]> returned = new java.util.ArrayList<>();
            for (int p = 0; p < gradients.parameters().size(); p++) {
                NDArray mixed = null;
                for (int k = 0; k < gradients.terms().size(); k++) {
                    NDArray g = gradients.gradients().get(k).get(p);
                    if (g != null) {
                        NDArray scaled = Scalars.mul(g, params.coefficients().get(k));
                        mixed = mixed == null ? scaled : mixed.add(scaled);
                    }
                }
                out.add(mixed);
                returned.add(mixed == null ? null : mixed.toFloatArray());
            }
            lastTerms = gradients.terms();
            lastParameters = gradients.parameters();
            lastGiven = given;
            lastReturned = returned;
            calls.incrementAndGet();
            return new Combined(out, Map.of("calls", (double) calls.get()));
        }
    }

    /** Records in memory until {@code fail_after} metrics, then fails as a spool on a full disk does. */
    public static final class FullDiskTracker implements dev.modalign.api.Tracker {
        public record Params(@Doc("full://anything") String uri,
                @Doc("Metrics recorded before the disk is full.") @Default("5") int failAfter) {}

        /** How the last run of any such tracker ended, and with what message; for tests. */
        public static volatile String lastEnd;

        private final Params params;

        FullDiskTracker(Params params) {
            this.params = params;
        }

        @Override
        public dev.modalign.api.TrackedRun startRun(dev.modalign.api.RunSpec spec) {
            return new dev.modalign.api.TrackedRun() {
                private int metrics;

                @Override
                public String id() {
                    return "full-1";
                }

                @Override
                public String location() {
                    return "/spool/full-1";
                }

                @Override
                public void logParams(Map<String, String> values) {}

                @Override
                public void setTags(Map<String, String> tags) {}

                @Override
                public void logMetric(String key, double value, long step) {
                    if (++metrics > params.failAfter()) {
                        throw new java.io.UncheckedIOException("cannot write the MLflow spool /spool/full-1/records.jsonl:"
                                + " No space left on device", new java.io.IOException("No space left on device"));
                    }
                }

                @Override
                public void logArtifact(java.nio.file.Path file, String artifactPath) {}

                @Override
                public void end(dev.modalign.api.RunStatus status, String message) {
                    lastEnd = status + ": " + message;
                }
            };
        }

        @Override
        public void close() {}
    }

    /** Paired Gaussian vectors. */
    public static final class Pairs implements DatasetSource {
        public record Params(@Doc("Records.") @Default("64") int size, @Doc("Dimensions.") @Default("8") int dim,
                @Doc("Seed.") @Default("0") long seed,
                @Doc("A record whose field a holds a NaN, for tests; -1: none.") @Default("-1") long nanAt,
                @Doc("Items: record i belongs to group i % items; 0: each record its own.") @Default("0") int items) {
            public Params {
                if (size < 1) {
                    throw new InvalidParamException("size", "must be at least 1, found " + size);
                }
            }
        }

        private final Params params;

        Pairs(Params params) {
            this.params = params;
        }

        @Override
        public long size() {
            return params.size();
        }

        @Override
        public DataRecord get(long index) {
            Random random = new Random(params.seed() * 1_000_003L + index);
            float[] a = new float[params.dim()];
            float[] b = new float[params.dim()];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) random.nextGaussian();
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = -a[(i + 1) % a.length] + 0.1f * (float) random.nextGaussian();
            }
            if (index == params.nanAt()) {
                a[0] = Float.NaN;
            }
            String id = "p" + index;
            return new DataRecord(id, params.items() > 0 ? "item" + index % params.items() : id, "pairs#" + index,
                    Map.of("a", a, "b", b, "label", (int) (index % 4)));
        }

        @Override
        public String fingerprint() {
            return "pairs(" + params + ")";
        }
    }

    /** float[] fields as [B, size]. */
    public static final class VectorModality implements Modality<float[]> {
        public record Params(@Doc("Vector length.") int size) {}

        private final int size;

        VectorModality(int size) {
            this.size = size;
        }

        @Override
        public Class<float[]> exampleType() {
            return float[].class;
        }

        @Override
        public InputSpec spec() {
            return new VectorSpec(size);
        }

        @Override
        public float[] decode(Object raw, String origin) {
            if (!(raw instanceof float[] values) || values.length != size) {
                throw new DataException(origin + ": expected " + size + " floats");
            }
            return values;
        }

        @Override
        public NDList collate(List<float[]> examples, NDManager manager) {
            float[] flat = new float[examples.size() * size];
            for (int i = 0; i < examples.size(); i++) {
                System.arraycopy(examples.get(i), 0, flat, i * size, size);
            }
            return new NDList(manager.create(flat, new Shape(examples.size(), size)));
        }
    }

    /** One linear layer. */
    public static final class LinearEncoder implements Encoder {
        public record Params(@Doc("Embedding size.") @Default("8") int embedDim) {}

        private final int embedDim;
        private final Block block;

        LinearEncoder(int embedDim) {
            this.embedDim = embedDim;
            this.block = Linear.builder().setUnits(embedDim).build();
        }

        @Override
        public Block block() {
            return block;
        }

        @Override
        public int embedDim() {
            return embedDim;
        }
    }

    /**
     * 1 - mean cosine similarity of paired rows, scaled by 1 / temperature; with {@code memory}, plus 0.1 x
     * the mean projection of tower a's rows on a running mean of them kept across steps (state a checkpoint
     * must carry). Options make it fail in the ways the trainer must handle.
     */
    public static final class AlignLoss implements Loss {
        public record Params(@Doc("Divides the loss.") @Default("1.0") double temperature,
                @Doc("A step at which the loss is NaN, for tests; -1: never.") @Default("-1") long poisonAt,
                @Doc("Poison only runs with this seed (-1: any seed).") @Default("-1") long poisonSeed,
                @Doc("A step at which the gradients are NaN but the loss is finite, for tests; -1: never.") @Default("-1")
                        long poisonGradAt,
                @Doc("A step at which compute throws, for tests; -1: never.") @Default("-1") long throwAt,
                @Doc("Throw from the constructor, for tests.") @Default("false") boolean failCreate,
                @Doc("Milliseconds to sleep in every step, so that tests can stop a run mid-way.") @Default("0") long delayMs,
                @Doc("Keep a running mean of tower a's rows across steps and add their projection on it.")
                        @Default("false") boolean memory) {
            public Params {
                if (!(temperature > 0)) {
                    throw new InvalidParamException("temperature", "must be > 0, found " + temperature);
                }
            }
        }

        private final Params params;
        private final List<String> towers;
        private final long seed;
        private float[] running;
        private long updates;
        /** Training steps whose metrics the host said it logs (API 1.4). */
        private long loggedSteps;

        AlignLoss(Params params, List<String> towers, long seed) {
            if (params.failCreate()) {
                throw new IllegalStateException("told to fail in the constructor");
            }
            this.params = params;
            this.towers = towers;
            this.seed = seed;
        }

        @Override
        public LossOutput compute(EncodedBatch batch, dev.modalign.api.StepContext context) {
            if (context.step() == params.throwAt()) {
                throw new IllegalStateException("told to throw at step " + context.step());
            }
            if (params.delayMs() > 0) {
                try {
                    Thread.sleep(params.delayMs());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            NDArray a = normalize(batch.tower(towers.get(0)).embedding());
            NDArray b = normalize(batch.tower(towers.get(1)).embedding());
            NDArray loss = a.mul(b).sum(new int[] {1}).mean().neg().add(1f);
            loss = Scalars.div(loss, params.temperature());
            if (params.memory() && running != null) {
                NDArray mean = context.manager().create(running);
                loss = loss.add(Scalars.mul(a.matMul(mean.expandDims(1)).mean(), 0.1));
            }
            if (context.step() == params.poisonAt() && (params.poisonSeed() < 0 || params.poisonSeed() == seed)) {
                loss = loss.mul(Float.NaN);
            }
            if (context.step() == params.poisonGradAt()) {
                // sqrt at 0 has an infinite derivative; times 0 the value stays 0 and the gradient becomes NaN.
                NDArray zero = a.sub(a.stopGradient());
                loss = loss.add(Scalars.mul(zero.sqrt().sum(), 0.0));
            }
            // How many items the batch's group ids name (-1 without them): the trainer hands losses the groups.
            long items = batch.groupsIfAny().map(groups -> groups.stream().distinct().count()).orElse(-1L);
            // The first tower's input as its encoder read it (API 1.3): its row count, -1 without inputs.
            long inputRows = batch.inputs() == null ? -1 : batch.input(towers.get(0)).get(0).getShape().get(0);
            if (context.training() && context.metricsLogged()) {
                loggedSteps++;
            }
            return new LossOutput(loss, Map.of("cosine", a.mul(b).sum(new int[] {1}).mean().stopGradient(),
                    "items", Scalars.of(loss, items), "input_rows", Scalars.of(loss, inputRows),
                    "logged_steps", Scalars.of(loss, loggedSteps)));
        }

        @Override
        public void afterStep(EncodedBatch batch, dev.modalign.api.StepContext context) {
            if (!params.memory()) {
                return;
            }
            NDArray mean = normalize(batch.tower(towers.get(0)).embedding()).stopGradient().mean(new int[] {0});
            float[] values = mean.toFloatArray();
            if (running == null) {
                running = values;
            } else {
                for (int i = 0; i < running.length; i++) {
                    running[i] = 0.9f * running[i] + 0.1f * values[i];
                }
            }
            updates++;
        }

        @Override
        public void saveState(java.io.DataOutputStream out) throws java.io.IOException {
            if (running == null) {
                return;
            }
            out.writeLong(updates);
            out.writeInt(running.length);
            for (float value : running) {
                out.writeFloat(value);
            }
        }

        @Override
        public void loadState(java.io.DataInputStream in) throws java.io.IOException {
            updates = in.readLong();
            running = new float[in.readInt()];
            for (int i = 0; i < running.length; i++) {
                running[i] = in.readFloat();
            }
        }

        /** Updates of the running mean so far; for tests. */
        public long updates() {
            return updates;
        }

        static NDArray normalize(NDArray x) {
            return x.div(x.norm(new int[] {1}, true).add(1e-8f));
        }
    }

    /** Mean cosine of paired rows. */
    public static final class MeanCosine implements Evaluator {
        public record Params(@Doc("Throw instead of evaluating, for tests.") @Default("false") boolean fail) {}

        private final boolean fail;

        MeanCosine(boolean fail) {
            this.fail = fail;
        }

        @Override
        public EvalResult evaluate(dev.modalign.api.EvalContext context) {
            if (fail) {
                throw new IllegalStateException("told to fail");
            }
            NDArray a = AlignLoss.normalize(context.embeddings(context.towers().get(0)));
            NDArray b = AlignLoss.normalize(context.embeddings(context.towers().get(1)));
            return new EvalResult(Map.of("cosine", (double) a.mul(b).sum(new int[] {1}).mean().getFloat()));
        }
    }
}
