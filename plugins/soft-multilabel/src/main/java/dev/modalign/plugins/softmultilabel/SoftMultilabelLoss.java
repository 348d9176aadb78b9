package dev.modalign.plugins.softmultilabel;

import ai.djl.ndarray.NDArray;
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
import java.util.List;
import java.util.Map;

/**
 * Contrastive learning with soft targets from multi-label overlap, after "Multi-Label Guided Soft
 * Contrastive Learning for Efficient Earth Observation Pretraining" (SoftCon; Wang, Albrecht and
 * Zhu, 2024): in a complex scene many records share some of their labels, so treating every other
 * record as an equal negative is too strict and treating one class as the positive set too coarse.
 * The target of anchor i over candidates j is the label overlap of i and j, and the loss is the
 * cross-entropy between that target and the softmax of the logits.
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||,   S = u v^T / temperature
 *   K_ij = |Y_i &amp; Y_j| / |Y_i | Y_j|            jaccard (the default; 0 for two empty label sets)
 *        = |Y_i &amp; Y_j| / sqrt(|Y_i| |Y_j|)      cosine of the multi-hot vectors (0 for an empty set)
 *   K_ii = 1                                      a record's own pair is always a full positive
 *   P = K / rowsum(K)
 *   loss = (-1/B sum_ij P_ij log softmax_j(S_i.) - 1/B sum_ij P_ji log softmax_i(S_.j)) / 2
 * </pre>
 *
 * <p>This is the row-normalised soft-target form of the idea (as in soft-label InfoNCE); SoftCon's own
 * formulation and its choice of overlap measure may differ in detail, so {@code similarity} offers
 * both. For label vectors that are not 0/1 the two measures generalise to the Tanimoto coefficient
 * &lt;y_i, y_j&gt; / (|y_i|^2 + |y_j|^2 - &lt;y_i, y_j&gt;) and the cosine; label weights must not be
 * negative.
 *
 * <p>Where the label sets come from, and why: {@code EncodedBatch.labels()} holds one class index per
 * record (the data's {@code label:} key), and losses see nothing of a record but its towers' outputs.
 * So the label sets are read from a tower: {@code labels_tower} names a tower whose modality is
 * {@code multi-hot} (a field such as "3;7;12" collated to float [B, classes]) and whose encoder is
 * {@code identity} (the embedding is that vector, no parameters); that tower should be
 * {@code frozen: true} and named by no other loss or evaluator. Without {@code labels_tower}, the
 * batch's class indices are the labels, one per record: the targets then spread evenly over the
 * records of the anchor's class, a supervised-contrastive-like objective across the two towers.
 *
 * <p>Targets carry no gradient. The cross-entropies go through log-softmax, which subtracts each
 * row's maximum before exponentiating, so logits in the thousands stay finite.
 */
public final class SoftMultilabelLoss implements Loss {

    /** How the overlap of two label sets is measured. */
    public enum Similarity {
        JACCARD,
        COSINE
    }

    /**
     * @param temperature the softmax temperature
     * @param similarity the overlap measure
     * @param labelsTower the tower whose embedding is the multi-hot label vector, or null for the batch's labels
     */
    public record Params(
            @Doc("Softmax temperature: logits are cosine similarities divided by it") @Default("0.07") double temperature,
            @Doc("Overlap of two records' label sets that makes the target: jaccard (|A & B| / |A | B|) or cosine"
                    + " (|A & B| / sqrt(|A| |B|)) of the multi-hot vectors")
            @Default("jaccard") Similarity similarity,
            @Doc("The tower whose embedding is each record's multi-hot label vector (modality multi-hot, encoder"
                    + " identity, frozen); empty: one label per record from the data's label: key")
            @Default("null") String labelsTower) {

        public Params {
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be a finite number > 0, found " + temperature);
            }
            if (similarity == null) {
                throw new InvalidParamException("similarity", "must be jaccard or cosine, found nothing");
            }
            if (labelsTower != null && labelsTower.isBlank()) {
                throw new InvalidParamException("labels_tower", "names a tower, found '" + labelsTower
                        + "'; leave it out to use the data's label: key");
            }
        }
    }

    private static final String NAME = "soft-multilabel";

    /** Floor of a norm or a union, as in torch.nn.functional.normalize: a zero row stays zero. */
    private static final float EPSILON = 1e-12f;

    private final String firstTower;
    private final String secondTower;
    private final double temperature;
    private final Similarity similarity;
    private final String labelsTower;

    public SoftMultilabelLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2 || towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", NAME + " contrasts exactly two different towers, found " + towers
                    + "; name them, e.g. [image, text], and the tower of label sets with labels_tower");
        }
        int first = embedDim(context, towers.get(0), "towers");
        int second = embedDim(context, towers.get(1), "towers");
        if (first != second) {
            throw new InvalidParamException("towers", NAME + " compares embeddings in one space, but tower '"
                    + towers.get(0) + "' embeds in " + first + " dimensions and '" + towers.get(1) + "' in " + second
                    + "; give their encoders the same embed_dim");
        }
        if (params.labelsTower() != null) {
            if (towers.contains(params.labelsTower())) {
                throw new InvalidParamException("labels_tower", "is the tower of label vectors, not one of the"
                        + " contrasted towers " + towers + ", found '" + params.labelsTower() + "'");
            }
            embedDim(context, params.labelsTower(), "labels_tower");
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.temperature = params.temperature();
        this.similarity = params.similarity();
        this.labelsTower = params.labelsTower();
    }

    private static int embedDim(ComponentContext context, String tower, String key) {
        try {
            return context.embedDim(tower);
        } catch (IllegalArgumentException e) {
            throw new InvalidParamException(key, "names no tower of this experiment, found '" + tower + "' ("
                    + e.getMessage() + "); declare it under towers:");
        }
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray a = Scalars.normalise(batch.tower(firstTower).embedding());
        NDArray b = Scalars.normalise(batch.tower(secondTower).embedding());
        int batchSize = Math.toIntExact(a.getShape().get(0));
        DataType dataType = a.getDataType();
        NDArray identity = manager.eye(batchSize, batchSize, 0, dataType);

        NDArray overlap = overlap(batch, batchSize, dataType);
        // A record's own pair is always a positive: K_ii = 1, which also keeps every row's sum above 0.
        NDArray kernel = overlap.mul(Scalars.of(identity, 1).sub(identity)).add(identity);
        NDArray targets = kernel.div(kernel.sum(new int[] {1}, true));

        NDArray logits = Scalars.div(a.matMul(b.transpose()), temperature);
        NDArray firstToSecond = Scalars.div(logits.logSoftmax(1).mul(targets).sum(), -batchSize);
        NDArray secondToFirst = Scalars.div(logits.logSoftmax(0).mul(targets.transpose()).sum(), -batchSize);
        NDArray loss = Scalars.div(firstToSecond.add(secondToFirst), 2);

        NDArray offDiagonal = batchSize < 2 ? Scalars.of(overlap, 0)
                : Scalars.div(overlap.sum().sub(overlap.mul(identity).sum()), (double) batchSize * (batchSize - 1));
        return new LossOutput(loss, Map.of("label_overlap", offDiagonal));
    }

    /** K before its diagonal is set: the overlap of every two records' label sets [B, B], without gradient. */
    private NDArray overlap(EncodedBatch batch, int batchSize, DataType dataType) {
        if (labelsTower == null) {
            NDArray labels = batch.labels();
            if (labels == null) {
                throw new DataException(NAME + " needs each record's labels, and this batch has none: name the tower"
                        + " of multi-hot label vectors with labels_tower, or the record field that holds each record's"
                        + " class index with `label:` under data.train (with the shapes source: label: label)");
            }
            NDArray column = labels.reshape(batchSize, 1);
            return column.eq(column.transpose()).toType(dataType, false);
        }
        NDArray vectors = batch.tower(labelsTower).embedding().stopGradient().toType(dataType, false);
        if (vectors.getShape().dimension() != 2 || vectors.getShape().get(0) != batchSize) {
            throw new DataException(NAME + " reads [B, classes] label vectors from tower '" + labelsTower
                    + "', found shape " + vectors.getShape() + " for a batch of " + batchSize);
        }
        float smallest = vectors.min().getFloat();
        if (smallest < 0 || Float.isNaN(smallest)) {
            throw new DataException(NAME + " reads label vectors from tower '" + labelsTower + "' and found the value "
                    + smallest + "; they must be multi-hot (0/1) or non-negative weights: give that tower the"
                    + " multi-hot modality and the identity encoder");
        }
        if (similarity == Similarity.COSINE) {
            NDArray unit = Scalars.normalise(vectors);
            return unit.matMul(unit.transpose());
        }
        NDArray inner = vectors.matMul(vectors.transpose());
        NDArray squares = vectors.square().sum(new int[] {1}, true); // [B, 1]
        NDArray union = squares.add(squares.transpose()).sub(inner);
        return inner.div(Scalars.maximum(union, EPSILON));
    }

}
