package dev.modalign.plugins.sbcl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * "Subclass-balancing Contrastive Learning for Long-tailed Recognition" (SBCL; Hou, Zhang, Wang and
 * Zhou, ICCV 2023): supervised contrastive learning on subclasses. Each head class is clustered into
 * subclasses about as large as the tail classes, so that every instance counts equally (instance
 * balance) while no class dominates the negatives (subclass balance), and a bi-granularity loss keeps
 * both levels of the hierarchy.
 *
 * <p>The views are every named tower's L2-normalised embeddings, as in SupCon: V towers of B records
 * give N = V * B views, view k * B + r being record r seen by tower k, with r's class y_r and subclass
 * (y_r, c_r). O(i) are the other views of i's own record.
 *
 * <pre>
 *   subclass level (t1):  A1(i) = every view but i,          P1(i) = {p != i : same subclass}
 *   class level (t2(i)):  A2(i) = {other subclasses} + O(i),  P2(i) = {same class, other subclass} + O(i)
 *   L_i(A, P, t) = -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a in A(i)} exp(z_i.z_a / t) )
 *   loss = (t1 / base_t) * mean_i L_i(A1, P1, t1) + class_weight * mean_i L_i(A2, P2, t2(i))
 * </pre>
 *
 * <p>The subclass level pulls a view towards its own subclass against everything else; the class level
 * pulls it towards the other subclasses of its class against the other classes' subclasses, which keeps
 * the classes separable (the paper's section 3.2). O(i) joins both sets of the class level as in the
 * authors' code (its {@code ad_mask}), so that an anchor whose class is one subclass still has a
 * positive. Each mean runs over the anchors with a positive (with two towers or more, all of them).
 *
 * <p>The paper clusters the whole training set every few epochs with the model in training; a loss
 * sees batches only, so this one keeps the last memory_size records (the concatenation of their towers'
 * normalised, detached embeddings, and their label) in {@link #afterStep}, and every recluster_every
 * steps runs seeded k-means on each class of the memory with k_c = max(1, floor(n_c / M)); M is
 * subclass_size, or the smallest class count in the memory but at least min_subclass_size (the
 * authors' code: max(smallest class, 10) on CIFAR, 20 on ImageNet-LT). A batch's records are assigned
 * to the nearest subclass centroid of their class. Before the first clustering every record is in
 * subclass 0 of its class, so the subclass level is SupCon and the class level contrasts each record's
 * views against the other classes. The class-level temperature follows each class's concentration as in
 * the authors' code (PCL's estimate, clipped to its 10th and 90th percentiles and scaled to mean
 * class_temperature; one-subclass classes keep class_temperature), or is class_temperature throughout.
 * Memory and subclasses are state of the run: deterministic for a seed, not saved in checkpoints,
 * started afresh by a resumed run.
 *
 * <p>Masked entries are pushed far below every logit rather than to -infinity, so that a row with
 * nothing left (one tower, a batch of one) stays finite; each row's log-softmax subtracts its maximum,
 * so temperatures of 0.001 do not overflow.
 */
public final class SbclLoss implements Loss {

    /** The parameters, with the paper's (or its code's) defaults where it has them. */
    public record Params(
            @Doc("Subclass-level temperature t1 (the paper's code: 0.1 on CIFAR-LT, 0.07 on ImageNet-LT)")
            @Default("0.1") double temperature,
            @Doc("The subclass level is multiplied by temperature / base_temperature, as in the authors' code (which"
                    + " uses 0.07); empty: no scaling, the equation as printed")
            @Default("null") Double baseTemperature,
            @Doc("Class-level temperature t2: with adaptive_class_temperature the mean of the per-class ones (the"
                    + " authors' code scales its per-class temperatures to the subclass temperature, 0.1)")
            @Default("0.1") double classTemperature,
            @Doc("Give each class a class-level temperature in proportion to its concentration (mean distance to"
                    + " the class mean over log(n + 10), as PCL), as the authors' code does; false: class_temperature"
                    + " for every class")
            @Default("true") boolean adaptiveClassTemperature,
            @Doc("Weight of the class-level term (the authors' code: 0.25)")
            @Default("0.25") double classWeight,
            @Doc("Subclass size M: a class of n records in the memory gets max(1, floor(n / M)) subclasses; empty:"
                    + " the smallest class count in the memory, at least min_subclass_size")
            @Default("null") Integer subclassSize,
            @Doc("Floor of M when it is taken from the memory (the authors' code: 10 on CIFAR-LT, 20 on"
                    + " ImageNet-LT)")
            @Default("10") int minSubclassSize,
            @Doc("Number of recent records (their towers' embeddings and label) kept to cluster; the paper clusters"
                    + " the whole training set, so about one epoch of records suits")
            @Default("4096") int memorySize,
            @Doc("Re-cluster the memory every this many training steps (the paper: every 10 epochs after 10 of"
                    + " SupCon on CIFAR-LT, every 5 on ImageNet-LT; a loss cannot know the epoch length); every"
                    + " record is in one subclass of its class before the first clustering")
            @Default("50") int reclusterEvery,
            @Doc("Largest number of k-means iterations per class and clustering (the authors' code: under 25)")
            @Default("20") int kmeansIterations,
            @Doc("Number of seeded k-means restarts per class, the lowest inertia kept")
            @Default("3") int kmeansRestarts) {

        public Params {
            positive("temperature", temperature, "the paper uses 0.1");
            if (baseTemperature != null) {
                positive("base_temperature", baseTemperature, "leave it out for no scaling, or 0.07 as in the"
                        + " authors' code");
            }
            positive("class_temperature", classTemperature, "the authors' code uses 0.1");
            if (!(classWeight >= 0) || !Double.isFinite(classWeight)) {
                throw new InvalidParamException("class_weight", "must be a finite number >= 0, found " + classWeight
                        + "; the authors' code uses 0.25");
            }
            if (subclassSize != null && subclassSize < 1) {
                throw new InvalidParamException("subclass_size", "must be >= 1 record, found " + subclassSize
                        + "; leave it out to take the smallest class count in the memory");
            }
            if (minSubclassSize < 1) {
                throw new InvalidParamException("min_subclass_size", "must be >= 1 record, found " + minSubclassSize);
            }
            if (memorySize < 1) {
                throw new InvalidParamException("memory_size", "must be >= 1 record, found " + memorySize
                        + "; about one epoch of records suits");
            }
            if (reclusterEvery < 1) {
                throw new InvalidParamException("recluster_every", "must be >= 1 step, found " + reclusterEvery);
            }
            if (kmeansIterations < 1) {
                throw new InvalidParamException("kmeans_iterations", "must be >= 1, found " + kmeansIterations);
            }
            if (kmeansRestarts < 1) {
                throw new InvalidParamException("kmeans_restarts", "must be >= 1, found " + kmeansRestarts);
            }
        }

        private static void positive(String key, double value, String hint) {
            if (!(value > 0) || !Double.isFinite(value)) {
                throw new InvalidParamException(key, "must be a finite number > 0, found " + value + "; " + hint);
            }
        }
    }

    /** How far below the others a masked logit is pushed, in units of (1 + 1/t): exp(-1e6) is 0. */
    private static final double MASK_PENALTY = 1e6;

    private static final String NAME = "sbcl";
    private static final System.Logger LOG = System.getLogger(SbclLoss.class.getName());

    private final List<String> towers;
    private final Params params;
    private final double scale;
    private final long seed;
    private final LabelledMemory memory;
    private final Subclasses.Settings settings;
    private int stepsSinceClustering;
    private int clusterings;
    private Subclasses subclasses;

    public SbclLoss(Params params, ComponentContext context) {
        this.towers = List.copyOf(context.towers());
        if (towers.isEmpty()) {
            throw new InvalidParamException("towers", NAME + " reads one or more towers, found none; name the"
                    + " towers whose embeddings are the views, e.g. [image, text]");
        }
        if (new HashSet<>(towers).size() != towers.size()) {
            throw new InvalidParamException("towers", NAME + " reads each tower once, found " + towers
                    + "; a tower named twice would be its own positive");
        }
        int dim = context.embedDim(towers.get(0));
        for (String tower : towers) {
            if (context.embedDim(tower) != dim) {
                throw new InvalidParamException("towers", NAME + " compares the views of all its towers in one"
                        + " space, so their embed_dim must agree; found " + towers.get(0) + ": " + dim + ", "
                        + tower + ": " + context.embedDim(tower));
            }
        }
        this.params = params;
        this.scale = params.baseTemperature() == null ? 1 : params.temperature() / params.baseTemperature();
        this.seed = context.seed();
        this.memory = new LabelledMemory(params.memorySize());
        this.settings = new Subclasses.Settings(params.subclassSize(), params.minSubclassSize(),
                params.kmeansIterations(), params.kmeansRestarts(), params.classTemperature(),
                params.adaptiveClassTemperature());
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        long[] labels = requireLabels(batch).toLongArray();
        int[] clusters = new int[labels.length];
        double[] classTemperatures = new double[labels.length];
        Subclasses current = subclasses;
        float[][] features = current == null ? null : features(batch);
        for (int r = 0; r < labels.length; r++) {
            clusters[r] = current == null ? 0 : current.assign(labels[r], features[r]);
            classTemperatures[r] = current == null ? params.classTemperature() : current.temperature(labels[r]);
        }
        return compute(batch, context, clusters, classTemperatures);
    }

    /**
     * The loss for given subclasses: record r of the batch is in subclass {@code clusters[r]} of its class,
     * and its anchors' class level is at {@code classTemperatures[r]}.
     */
    LossOutput compute(EncodedBatch batch, StepContext context, int[] clusters, double[] classTemperatures) {
        NDManager manager = context.manager();
        NDArray labels = requireLabels(batch);
        List<NDArray> normalised = new ArrayList<>();
        for (String tower : towers) {
            normalised.add(Scalars.normalise(batch.tower(tower).embedding()));
        }
        // NDArrays.concat of a single array returns a detached copy; one tower is its own view set.
        NDArray views = normalised.size() == 1 ? normalised.get(0) : NDArrays.concat(new NDList(normalised), 0);
        DataType dataType = views.getDataType();
        int count = Math.toIntExact(views.getShape().get(0));
        int batchSize = Math.toIntExact(labels.getShape().get(0));
        int repeats = towers.size();

        NDArray identity = manager.eye(count, count, 0, dataType);
        NDArray ones = manager.ones(identity.getShape(), dataType);
        NDArray labelColumn = labels.tile(repeats).reshape(count, 1);
        NDArray clusterColumn = manager.create(clusters).tile(repeats).reshape(count, 1);
        NDArray recordColumn = manager.arange(batchSize).tile(repeats).reshape(count, 1);
        NDArray sameClass = labelColumn.eq(labelColumn.transpose()).toType(dataType, false);
        NDArray sameSubclass = labelColumn.eq(labelColumn.transpose())
                .logicalAnd(clusterColumn.eq(clusterColumn.transpose())).toType(dataType, false);
        NDArray ownRecord = recordColumn.eq(recordColumn.transpose()).toType(dataType, false).sub(identity);
        NDArray otherSubclass = ones.sub(sameSubclass);

        float[] temperatureColumn = new float[count];
        double smallest = params.temperature();
        for (int i = 0; i < count; i++) {
            temperatureColumn[i] = (float) classTemperatures[i % batchSize];
            smallest = Math.min(smallest, temperatureColumn[i]);
        }
        double penalty = -MASK_PENALTY * (1 + 1 / smallest);
        NDArray similarity = views.matMul(views.transpose());

        NDArray subclassLevel = contrast(Scalars.div(similarity, params.temperature()), ones.sub(identity),
                sameSubclass.sub(identity), penalty);
        NDArray classTemperature = manager.create(temperatureColumn).toType(dataType, false).reshape(count, 1);
        NDArray classLevel = contrast(similarity.div(classTemperature), otherSubclass.add(ownRecord),
                sameClass.mul(otherSubclass).add(ownRecord), penalty);
        NDArray loss = Scalars.mul(subclassLevel, scale).add(Scalars.mul(classLevel, params.classWeight()));

        Map<String, NDArray> metrics = new LinkedHashMap<>();
        metrics.put("subclass_loss", subclassLevel.stopGradient());
        metrics.put("class_loss", classLevel.stopGradient());
        metrics.put("batch_subclasses", manager.create((float) distinctSubclasses(labels.toLongArray(), clusters)));
        return new LossOutput(loss, metrics);
    }

    /**
     * mean over the anchors with a positive of -1/|P(i)| sum_p log softmax_{A(i)}(logits_i)_p; 0 when no
     * anchor has one. Entries outside A(i) are pushed {@code penalty} below the others.
     */
    private static NDArray contrast(NDArray logits, NDArray allowed, NDArray positives, double penalty) {
        NDArray outside = Scalars.mul(Scalars.of(allowed, 1).sub(allowed), penalty);
        NDArray logProbability = logits.add(outside).logSoftmax(1);
        NDArray positivesPerAnchor = positives.sum(new int[] {1});
        NDArray hasPositive = positivesPerAnchor.gt(Scalars.of(positivesPerAnchor, 0))
                .toType(positivesPerAnchor.getDataType(), false);
        NDArray meanOverPositives = logProbability.mul(positives).sum(new int[] {1})
                .div(Scalars.maximum(positivesPerAnchor, 1));
        NDArray anchors = hasPositive.sum();
        return meanOverPositives.mul(hasPositive).sum().div(Scalars.maximum(anchors, 1)).neg();
    }

    /**
     * Adds the batch's records to the memory and re-clusters it every recluster_every steps, with a seed mixed
     * from the run's and the round.
     */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        memory.add(features(batch), requireLabels(batch).toLongArray());
        stepsSinceClustering++;
        if (stepsSinceClustering >= params.reclusterEvery()) {
            stepsSinceClustering = 0;
            clusterings++;
            Subclasses fitted = Subclasses.fit(memory.features(), memory.labels(), settings,
                    Subclasses.mix(seed, clusterings));
            subclasses = fitted;
            LOG.log(System.Logger.Level.DEBUG, () -> String.format("sbcl: clustering %d of %d records into %d"
                    + " subclasses of %d classes (M = %d)", clusterings, memory.size(), fitted.count(),
                    fitted.classes().size(), fitted.subclassSize()));
        }
    }

    /** Writes the memory, the clustering rounds and the subclasses, for a checkpoint. */
    @Override
    public void saveState(DataOutputStream out) throws IOException {
        memory.write(out);
        out.writeInt(stepsSinceClustering);
        out.writeInt(clusterings);
        out.writeBoolean(subclasses != null);
        if (subclasses != null) {
            out.writeInt(subclasses.subclassSize());
            out.writeDouble(subclasses.defaultTemperature());
            out.writeInt(subclasses.classes().size());
            for (Map.Entry<Long, Subclasses.ClassSubclasses> entry : subclasses.classes().entrySet()) {
                Subclasses.ClassSubclasses one = entry.getValue();
                out.writeLong(entry.getKey());
                out.writeInt(one.size());
                out.writeDouble(one.concentration());
                out.writeDouble(one.temperature());
                out.writeInt(one.centroids().length);
                for (float[] centroid : one.centroids()) {
                    LabelledMemory.writeRow(out, centroid);
                }
            }
        }
    }

    @Override
    public void loadState(DataInputStream in) throws IOException {
        memory.read(in);
        stepsSinceClustering = in.readInt();
        clusterings = in.readInt();
        if (!in.readBoolean()) {
            subclasses = null;
            return;
        }
        int subclassSize = in.readInt();
        double defaultTemperature = in.readDouble();
        int count = in.readInt();
        Map<Long, Subclasses.ClassSubclasses> classes = new java.util.TreeMap<>();
        for (int c = 0; c < count; c++) {
            long label = in.readLong();
            int size = in.readInt();
            double concentration = in.readDouble();
            double temperature = in.readDouble();
            float[][] centroids = new float[in.readInt()][];
            for (int k = 0; k < centroids.length; k++) {
                centroids[k] = LabelledMemory.readRow(in);
            }
            classes.put(label, new Subclasses.ClassSubclasses(centroids, size, concentration, temperature));
        }
        subclasses = new Subclasses(classes, subclassSize, defaultTemperature);
    }

    /** The current subclasses, or null before the first clustering; for tests. */
    Subclasses subclasses() {
        return subclasses;
    }

    /** Sets the subclasses, as a clustering would; for tests. */
    void useSubclasses(Subclasses subclasses) {
        this.subclasses = subclasses;
    }

    /** Each record's feature: its towers' normalised, detached embeddings one after another, as Java rows. */
    private float[][] features(EncodedBatch batch) {
        float[][] rows = null;
        int offset = 0;
        for (String tower : towers) {
            NDArray unit = Scalars.normalise(batch.tower(tower).embedding().stopGradient()).toType(DataType.FLOAT32, false);
            int batchSize = Math.toIntExact(unit.getShape().get(0));
            int dim = Math.toIntExact(unit.getShape().get(1));
            if (rows == null) {
                rows = new float[batchSize][dim * towers.size()];
            }
            float[] flat = unit.toFloatArray();
            for (int r = 0; r < batchSize; r++) {
                System.arraycopy(flat, r * dim, rows[r], offset, dim);
            }
            offset += dim;
        }
        return rows;
    }

    private static int distinctSubclasses(long[] labels, int[] clusters) {
        Set<List<Long>> distinct = new HashSet<>();
        for (int r = 0; r < labels.length; r++) {
            distinct.add(List.of(labels[r], (long) clusters[r]));
        }
        return distinct.size();
    }

    /** The batch's labels, or an error that says where they come from. */
    private static NDArray requireLabels(EncodedBatch batch) {
        NDArray labels = batch.labels();
        if (labels == null) {
            throw new DataException(NAME + " needs a class label for every record, and this batch has none: name the"
                    + " record field that holds each record's class index with `label:` under data.train (with the"
                    + " shapes source: label: label)");
        }
        return labels;
    }

}
