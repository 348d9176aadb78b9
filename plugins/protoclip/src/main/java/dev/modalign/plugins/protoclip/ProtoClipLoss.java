package dev.modalign.plugins.protoclip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.ConstantInitializer;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import dev.modalign.clustering.KMeans;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * "Prototypical Contrastive Language Image Pretraining" (ProtoCLIP; Chen, Wu, Liu, Yang, Huang, Bao and
 * Zhou, IEEE TNNLS 2023): CLIP's instance-level InfoNCE plus prototype-level discrimination across the
 * modalities, which groups semantically similar samples faster than the instance term alone does.
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||                                   rows L2-normalised
 *   instance = (CE(s u v^T, diag) + CE(s v u^T, diag)) / 2          s = exp(logit_scale), as CLIP
 *   C_I, C_T = k-means centroids of recent image and text embeddings (K each)
 *   l_T(i) = nearest text centroid of v_i,  q_T(i) = softmax(C_T[l_T(i)] C_T^T / tau_teacher)
 *   image->text = -mean_i sum_k q_T(i)_k log softmax(p u_i S_I^T)_k     p = exp(proto_logit_scale)
 *   text->image = the same with v, S_T, and the image clusters' q_I
 *   loss = instance_weight * instance + proto_weight * (image->text + text->image) / 2
 * </pre>
 *
 * <p>An image's distribution over the K TEXT prototypes is taught by its caption's cluster, softened by
 * the similarity of that cluster's centroid to the others (the paper's teacher, sharpened by
 * tau_teacher = 0.01), and a caption's by its image's. The student prototypes S_I are, with Prototype
 * Back Translation (the paper's PBT, on by default), the image-space means of the text clusters, so that
 * the images learn the text's grouping without being pulled across the modality gap; without it S_I =
 * C_T. Both temperatures are learned as log-scales, initialised to 1 / 0.07 and capped at
 * max_logit_scale as CLIP's (the paper's code clamps both to [0, ln 100]).
 *
 * <p>The paper clusters each episode of 200k samples into 20,000 prototypes with faiss and labels the
 * episode's samples by that clustering; online, this loss keeps a memory of the last memory_size pairs
 * of normalised embeddings (updated in {@link #afterStep}), re-clusters it every recluster_every steps
 * with seeded k-means ({@link KMeans}: 20 iterations and 3 restarts as the paper's code runs faiss), and
 * labels a batch's samples by their nearest centroid now. Until the first clustering only the instance
 * term applies, as the paper's InfoNCE-only warm-up. The paper's projection heads (128-dimensional,
 * before the prototype term) and its external RoBERTa teacher are left out: the prototype term reads the
 * towers' embeddings. Memory and prototypes are state of the run: deterministic for a seed, not saved in
 * checkpoints, started afresh by a resumed run.
 */
public final class ProtoClipLoss implements Loss {

    /** The parameters, with the paper's defaults where it has them. */
    public record Params(
            @Doc("Instance-level InfoNCE temperature (CLIP's), the initial value when learnable")
            @Default("0.07") double temperature,
            @Doc("Temperature of the student's prototype logits, the initial value when learnable (the paper's"
                    + " logit_scale_proto starts at 1 / 0.07)")
            @Default("0.07") double protoTemperature,
            @Doc("Learn both temperatures as the parameters logit_scale and proto_logit_scale; false keeps them fixed")
            @Default("true") boolean learnable,
            @Doc("Cap on both logit scales 1 / temperature (the paper clamps them at 100)")
            @Default("100") double maxLogitScale,
            @Doc("Temperature of the teacher's soft assignment softmax(C[label] C^T / t) (the paper's"
                    + " target_temperature 0.01)")
            @Default("0.01") double teacherTemperature,
            @Doc("Number K of prototypes per modality. The paper clusters 200k-sample episodes into 20,000 (10"
                    + " samples each); 64 suits a memory of 2048 at this scale")
            @Default("64") int prototypes,
            @Doc("Number of recent embedding pairs kept to cluster (the paper's episode); at least prototypes")
            @Default("2048") int memorySize,
            @Doc("Re-cluster the memory every this many training steps (the paper: once per episode); the first"
                    + " clustering waits until then and until the memory holds at least K pairs, and only the"
                    + " instance term applies before it")
            @Default("100") int reclusterEvery,
            @Doc("Largest number of k-means iterations per clustering (the paper's kmeans_max_iter 20)")
            @Default("20") int kmeansIterations,
            @Doc("Number of seeded k-means restarts, the best kept (the paper's kmeans_nredo 3)")
            @Default("3") int kmeansRestarts,
            @Doc("Weight of the instance-level InfoNCE term (the paper's w_clip 1)")
            @Default("1.0") double instanceWeight,
            @Doc("Weight of the prototype term (the paper's w_proto 1)")
            @Default("1.0") double protoWeight,
            @Doc("Prototype Back Translation: an image's student prototypes are the image-space means of the text"
                    + " clusters (and back); false uses the other modality's centroids directly")
            @Default("true") boolean backTranslation) {

        public Params {
            positive("temperature", temperature, "CLIP starts from 0.07");
            positive("proto_temperature", protoTemperature, "the paper starts from 0.07");
            positive("max_logit_scale", maxLogitScale, "the paper uses 100");
            positive("teacher_temperature", teacherTemperature, "the paper uses 0.01");
            for (String key : List.of("temperature", "proto_temperature")) {
                double t = key.equals("temperature") ? temperature : protoTemperature;
                if (1 / t > maxLogitScale * (1 + 1e-9)) {
                    throw new InvalidParamException(key, "gives a logit scale 1 / " + key + " = " + (1 / t)
                            + " above max_logit_scale " + maxLogitScale + ", found " + t + "; raise max_logit_scale"
                            + " to at least " + (1 / t));
                }
            }
            if (prototypes < 1) {
                throw new InvalidParamException("prototypes", "must be >= 1, found " + prototypes);
            }
            if (memorySize < prototypes) {
                throw new InvalidParamException("memory_size", "must hold at least the " + prototypes
                        + " prototypes, found " + memorySize + "; k-means needs a point per cluster");
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
            if (!(instanceWeight >= 0) || !Double.isFinite(instanceWeight)) {
                throw new InvalidParamException("instance_weight", "must be a finite number >= 0, found "
                        + instanceWeight);
            }
            if (!(protoWeight >= 0) || !Double.isFinite(protoWeight)) {
                throw new InvalidParamException("proto_weight", "must be a finite number >= 0, found " + protoWeight);
            }
        }

        private static void positive(String key, double value, String hint) {
            if (!(value > 0) || !Double.isFinite(value)) {
                throw new InvalidParamException(key, "must be a finite number > 0, found " + value + "; " + hint);
            }
        }
    }

    private static final System.Logger LOG = System.getLogger(ProtoClipLoss.class.getName());

    private final String imageTower;
    private final String textTower;
    private final Params params;
    private final long seed;
    private final float logitScaleCap;
    private final float initialLogitScale;
    private final float initialProtoLogitScale;
    private final Parameter logitScale;
    private final Parameter protoLogitScale;
    private final PairMemory memory;
    private int stepsSinceClustering;
    private int clusterings;
    private Prototypes prototypes;

    public ProtoClipLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "protoclip reads exactly two towers, found " + towers
                    + "; name the image and the text tower, e.g. [image, text]");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "protoclip contrasts two different towers, found " + towers);
        }
        int firstDim = context.embedDim(towers.get(0));
        int secondDim = context.embedDim(towers.get(1));
        if (firstDim != secondDim) {
            throw new InvalidParamException("towers", "protoclip compares embeddings in one space, but tower '"
                    + towers.get(0) + "' embeds in " + firstDim + " dimensions and '" + towers.get(1) + "' in "
                    + secondDim + "; give their encoders the same embed_dim");
        }
        this.imageTower = towers.get(0);
        this.textTower = towers.get(1);
        this.params = params;
        this.seed = context.seed();
        this.logitScaleCap = (float) Math.log(params.maxLogitScale());
        this.initialLogitScale = (float) Math.log(1 / params.temperature());
        this.initialProtoLogitScale = (float) Math.log(1 / params.protoTemperature());
        this.logitScale = params.learnable() ? scalar("logit_scale", initialLogitScale) : null;
        this.protoLogitScale = params.learnable() ? scalar("proto_logit_scale", initialProtoLogitScale) : null;
        this.memory = new PairMemory(params.memorySize());
    }

    @Override
    public List<Parameter> parameters() {
        return logitScale == null ? List.of() : List.of(logitScale, protoLogitScale);
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray u = Scalars.normalise(batch.tower(imageTower).embedding());
        NDArray v = Scalars.normalise(batch.tower(textTower).embedding());
        int batchSize = Math.toIntExact(u.getShape().get(0));
        DataType dataType = u.getDataType();

        NDArray scale = clipped(logitScale, initialLogitScale, manager, dataType);
        NDArray protoScale = clipped(protoLogitScale, initialProtoLogitScale, manager, dataType);
        NDArray logits = u.matMul(v.transpose()).mul(scale.exp());
        NDArray diagonal = manager.eye(batchSize, batchSize, 0, dataType);
        NDArray rows = logits.logSoftmax(1).mul(diagonal).sum();
        NDArray columns = logits.logSoftmax(0).mul(diagonal).sum();
        NDArray instance = Scalars.div(rows.add(columns), -2.0 * batchSize);

        Map<String, NDArray> metrics = new LinkedHashMap<>();
        metrics.put("temperature", scale.stopGradient().neg().exp());
        metrics.put("proto_temperature", protoScale.stopGradient().neg().exp());
        metrics.put("instance_loss", instance.stopGradient());
        NDArray loss = Scalars.mul(instance, params.instanceWeight());
        if (prototypes == null) {
            // Before the first clustering: the instance term only. The prototype scale stays in the graph with
            // a zero gradient, as an optimiser binding gradients at the first step expects.
            loss = loss.add(Scalars.mul(protoScale, 0));
        } else {
            Prototypes p = prototypes;
            NDArray textLabels = nearest(v.stopGradient(), array(manager, p.textCentroids(), dataType));
            NDArray imageLabels = nearest(u.stopGradient(), array(manager, p.imageCentroids(), dataType));
            NDArray textTargets = textLabels.oneHot(p.count(), dataType).matMul(array(manager, p.textTeacher(), dataType));
            NDArray imageTargets =
                    imageLabels.oneHot(p.count(), dataType).matMul(array(manager, p.imageTeacher(), dataType));
            NDArray protoFactor = protoScale.exp();
            NDArray imageLogits = u.matMul(array(manager, p.imageStudent(), dataType).transpose()).mul(protoFactor);
            NDArray textLogits = v.matMul(array(manager, p.textStudent(), dataType).transpose()).mul(protoFactor);
            NDArray imageToText = textTargets.mul(imageLogits.logSoftmax(1)).sum();
            NDArray textToImage = imageTargets.mul(textLogits.logSoftmax(1)).sum();
            NDArray proto = Scalars.div(imageToText.add(textToImage), -2.0 * batchSize);
            loss = loss.add(Scalars.mul(proto, params.protoWeight()));
            metrics.put("proto_loss", proto.stopGradient());
            metrics.put("proto_accuracy",
                    Scalars.div(accuracy(imageLogits, textLabels).add(accuracy(textLogits, imageLabels)), 2));
        }
        return new LossOutput(loss, metrics);
    }

    /**
     * Adds the batch's normalised embeddings to the memory, re-clusters it when due, and clips the learned
     * scales to log(max_logit_scale) as CLIP does after each optimiser step.
     */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        memory.add(rows(batch.tower(imageTower).embedding()), rows(batch.tower(textTower).embedding()));
        stepsSinceClustering++;
        if (stepsSinceClustering >= params.reclusterEvery()) {
            if (memory.size() >= params.prototypes()) {
                recluster();
                stepsSinceClustering = 0;
            } else {
                LOG.log(System.Logger.Level.DEBUG, () -> "protoclip: the memory holds " + memory.size() + " pairs, "
                        + params.prototypes() + " needed for the first clustering");
            }
        }
        for (Parameter parameter : parameters()) {
            NDArray array = parameter.getArray();
            if (array.getFloat() > logitScaleCap) {
                array.set(new float[] {logitScaleCap});
            }
        }
    }

    /** Clusters the memory's images and texts into K prototypes each, with seeds from the run's and the round. */
    private void recluster() {
        clusterings++;
        float[][] images = memory.first();
        float[][] texts = memory.second();
        KMeans.Result imageClusters = KMeans.fit(images, params.prototypes(), params.kmeansIterations(),
                params.kmeansRestarts(), mix(seed, clusterings, 0));
        KMeans.Result textClusters = KMeans.fit(texts, params.prototypes(), params.kmeansIterations(),
                params.kmeansRestarts(), mix(seed, clusterings, 1));
        prototypes = Prototypes.fromClustering(imageClusters, textClusters, images, texts, params.backTranslation(),
                params.teacherTemperature());
        LOG.log(System.Logger.Level.DEBUG, () -> String.format("protoclip: clustering %d of %d pairs into %d"
                + " prototypes, inertia image %.4g, text %.4g", clusterings, images.length, params.prototypes(),
                imageClusters.inertia(), textClusters.inertia()));
    }

    /** Writes the memory, the clustering rounds and the prototypes, for a checkpoint. */
    @Override
    public void saveState(DataOutputStream out) throws IOException {
        memory.write(out);
        out.writeInt(stepsSinceClustering);
        out.writeInt(clusterings);
        out.writeBoolean(prototypes != null);
        if (prototypes != null) {
            for (float[][] matrix : new float[][][] {prototypes.imageCentroids(), prototypes.textCentroids(),
                prototypes.imageStudent(), prototypes.textStudent(), prototypes.imageTeacher(), prototypes.textTeacher()}) {
                PairMemory.writeRows(out, matrix);
            }
        }
    }

    @Override
    public void loadState(DataInputStream in) throws IOException {
        memory.read(in);
        stepsSinceClustering = in.readInt();
        clusterings = in.readInt();
        if (in.readBoolean()) {
            float[][][] m = new float[6][][];
            for (int i = 0; i < 6; i++) {
                m[i] = PairMemory.readRows(in);
            }
            prototypes = new Prototypes(m[0], m[1], m[2], m[3], m[4], m[5]);
        } else {
            prototypes = null;
        }
    }

    /** The current prototypes, or null before the first clustering; for tests. */
    Prototypes prototypes() {
        return prototypes;
    }

    /** Sets the prototypes, as a clustering would; for tests. */
    void usePrototypes(Prototypes prototypes) {
        this.prototypes = prototypes;
    }

    /** Index of the nearest centroid of each row of {@code x} [B, D]: argmax of 2 x c - |c|^2, [B] int64. */
    private static NDArray nearest(NDArray x, NDArray centroids) {
        NDArray squaredNorms = centroids.mul(centroids).sum(new int[] {1}).expandDims(0);
        return Scalars.mul(x.matMul(centroids.transpose()), 2).sub(squaredNorms).argMax(1);
    }

    private static NDArray accuracy(NDArray logits, NDArray labels) {
        return logits.stopGradient().argMax(1).eq(labels).toType(DataType.FLOAT32, false).mean();
    }

    private static NDArray array(NDManager manager, float[][] rows, DataType dataType) {
        return manager.create(rows).toType(dataType, false);
    }

    /** The normalised, detached rows of an embedding as Java arrays. */
    private static float[][] rows(NDArray embedding) {
        NDArray unit = Scalars.normalise(embedding.stopGradient()).toType(DataType.FLOAT32, false);
        int batchSize = Math.toIntExact(unit.getShape().get(0));
        int dim = Math.toIntExact(unit.getShape().get(1));
        float[] flat = unit.toFloatArray();
        float[][] out = new float[batchSize][dim];
        for (int i = 0; i < batchSize; i++) {
            System.arraycopy(flat, i * dim, out[i], 0, dim);
        }
        return out;
    }

    /** A seed for one clustering of one modality from the run's seed (SplitMix64's finaliser). */
    static long mix(long runSeed, int round, int modality) {
        long z = runSeed + 0x9E3779B97F4A7C15L * (1 + 2L * round + modality);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static Parameter scalar(String name, float initialValue) {
        return Parameter.builder()
                .setName(name)
                .setType(Parameter.Type.OTHER)
                .optShape(new Shape())
                .optInitializer(new ConstantInitializer(initialValue))
                .build();
    }

    /**
     * A log-scale for this step, clipped to log(max_logit_scale), in the step's manager. A copying toType
     * is differentiable (duplicate() is not); the clip is inclusive, so at the cap the gradient passes.
     */
    private NDArray clipped(Parameter parameter, float fixed, NDManager manager, DataType dataType) {
        NDArray raw;
        if (parameter == null) {
            raw = manager.create(fixed).toType(dataType, false);
        } else {
            raw = parameter.getArray().toType(dataType, true);
            raw.attach(manager);
        }
        return raw.clip(Float.NEGATIVE_INFINITY, logitScaleCap);
    }

}
