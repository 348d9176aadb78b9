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

    /** Paired Gaussian vectors. */
    public static final class Pairs implements DatasetSource {
        public record Params(@Doc("Records.") @Default("64") int size, @Doc("Dimensions.") @Default("8") int dim,
                @Doc("Seed.") @Default("0") long seed,
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

    /** 1 - mean cosine similarity of paired rows, scaled by 1 / temperature. */
    public static final class AlignLoss implements Loss {
        public record Params(@Doc("Divides the loss.") @Default("1.0") double temperature,
                @Doc("A step at which the loss is NaN, for tests; -1: never.") @Default("-1") long poisonAt,
                @Doc("Poison only runs with this seed (-1: any seed).") @Default("-1") long poisonSeed) {
            public Params {
                if (!(temperature > 0)) {
                    throw new InvalidParamException("temperature", "must be > 0, found " + temperature);
                }
            }
        }

        private final Params params;
        private final List<String> towers;
        private final long seed;

        AlignLoss(Params params, List<String> towers, long seed) {
            this.params = params;
            this.towers = towers;
            this.seed = seed;
        }

        @Override
        public LossOutput compute(EncodedBatch batch, dev.modalign.api.StepContext context) {
            NDArray a = normalize(batch.tower(towers.get(0)).embedding());
            NDArray b = normalize(batch.tower(towers.get(1)).embedding());
            NDArray loss = a.mul(b).sum(new int[] {1}).mean().neg().add(1f);
            loss = Scalars.div(loss, params.temperature());
            if (context.step() == params.poisonAt() && (params.poisonSeed() < 0 || params.poisonSeed() == seed)) {
                loss = loss.mul(Float.NaN);
            }
            // How many items the batch's group ids name (-1 without them): the trainer hands losses the groups.
            long items = batch.groupsIfAny().map(groups -> groups.stream().distinct().count()).orElse(-1L);
            return new LossOutput(loss, Map.of("cosine", a.mul(b).sum(new int[] {1}).mean().stopGradient(),
                    "items", Scalars.of(loss, items)));
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
