package dev.modalign.plugins.oneencoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import dev.modalign.plugins.logitscale.LogitScale;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The alignment step of OneEncoder ("OneEncoder: A Lightweight Framework for Progressive Alignment of
 * Modalities", Faye et al., 2024, Section 3.2, stage 2): a new modality's tower is trained into a shared space
 * that earlier stages built and froze, by CLIP's InfoNCE against an already aligned modality (the anchor, text
 * in the paper). The anchor's embeddings are detached, so the loss moves only the new tower (and its own
 * temperature) even where the anchor tower is not frozen; freezing the anchor towers in the stage
 * ({@code frozen: true}) keeps the space exactly as the earlier stage left it. Modalities never paired with the
 * new one (images, when the new tower learns from speech against text) become reachable through the shared space:
 * the emergent retrieval that {@link EmergentRetrievalEvaluator} measures.
 *
 * <pre>
 *   a = new / ||new||,  z_k = stopgrad(anchor_k / ||anchor_k||),  S_k = exp(t) a z_k^T        [B, B]
 *   M_ij = 1 where rows i != j share a group id (the same item: one image with several spoken captions)
 *   L_k = ( CE(S_k - inf M, diag) + CE(S_k^T - inf M, diag) ) / 2      or the first term alone, not symmetric
 *   loss = sum_k w_k L_k / sum_k w_k
 * </pre>
 *
 * <p>The towers are {@code [new, anchor, ...]}; with several anchors (speech against both frozen text and frozen
 * image) each is an InfoNCE term of its weight. Rows of one group are not each other's negatives: a batch of
 * spoken captions holds several voices of one caption, and pushing them apart would fight the anchor.
 */
public final class AnchoredAlignmentLoss implements Loss {

    /**
     * @param anchorWeights the weight of each anchor tower's term, in the order of towers[1:]
     * @param temperature the softmax temperature, or its initial value when learnable
     * @param learnable learn log(1 / temperature) with the new tower
     * @param maxLogitScale the cap on exp(logit_scale)
     * @param symmetric also take the anchor's rows as queries
     */
    public record Params(
            @Doc("Weight of each anchor's InfoNCE term, in the order the towers after the first are named; empty: 1"
                    + " each") @Default("[]") List<Double> anchorWeights,
            @Doc("Softmax temperature: logits are cosine similarities divided by it; the initial value when learnable")
            @Default("0.07") double temperature,
            @Doc("Learn the temperature as logit_scale = log(1 / temperature), as CLIP does; false keeps it fixed")
            @Default("true") boolean learnable,
            @Doc("Cap on the logit scale 1 / temperature; the learned scale is clipped to it")
            @Default("100") double maxLogitScale,
            @Doc("Average both directions (the new tower's rows as queries, and the anchor's), as CLIP does")
            @Default("true") boolean symmetric) {

        public Params {
            anchorWeights = anchorWeights == null ? List.of() : List.copyOf(anchorWeights);
            for (Double weight : anchorWeights) {
                if (weight == null || !(weight >= 0) || !Double.isFinite(weight)) {
                    throw new InvalidParamException("anchor_weights", "every weight must be a finite number >= 0, found "
                            + anchorWeights);
                }
            }
            if (!anchorWeights.isEmpty() && anchorWeights.stream().mapToDouble(Double::doubleValue).sum() == 0) {
                throw new InvalidParamException("anchor_weights", "at least one weight must be > 0, found "
                        + anchorWeights);
            }
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be a finite number > 0, found " + temperature);
            }
            if (!(maxLogitScale > 0) || !Double.isFinite(maxLogitScale) || 1 / temperature > maxLogitScale * (1 + 1e-9)) {
                throw new InvalidParamException("max_logit_scale", "must be a finite number >= 1 / temperature = "
                        + (1 / temperature) + ", found " + maxLogitScale + "; CLIP uses 100");
            }
        }
    }

    static final String NAME = "one-encoder";

    /** How far below every logit a masked entry is pushed: exp(-1e6) is 0 in any float. */
    private static final double MASK_PENALTY = 1e6;

    private final String newTower;
    private final List<String> anchors;
    private final double[] weights;
    private final boolean symmetric;
    private final LogitScale logitScale;

    public AnchoredAlignmentLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() < 2 || towers.stream().distinct().count() != towers.size()) {
            throw new InvalidParamException("towers", NAME + " reads the new tower and then one or more frozen anchor"
                    + " towers, all different, found " + towers + "; e.g. [audio, text]");
        }
        this.newTower = towers.get(0);
        this.anchors = List.copyOf(towers.subList(1, towers.size()));
        for (String anchor : anchors) {
            if (context.embedDim(anchor) != context.embedDim(newTower)) {
                throw new InvalidParamException("towers", NAME + " aligns '" + newTower + "' (" + context.embedDim(newTower)
                        + " dimensions) into the space of '" + anchor + "' (" + context.embedDim(anchor)
                        + "); give the new tower's encoder embed_dim " + context.embedDim(anchor));
            }
        }
        if (!params.anchorWeights().isEmpty() && params.anchorWeights().size() != anchors.size()) {
            throw new InvalidParamException("anchor_weights", "gives " + params.anchorWeights().size() + " weights for "
                    + anchors.size() + " anchor towers " + anchors + "; give one per anchor, or none for 1 each");
        }
        this.weights = new double[anchors.size()];
        for (int k = 0; k < anchors.size(); k++) {
            weights[k] = params.anchorWeights().isEmpty() ? 1 : params.anchorWeights().get(k);
        }
        this.symmetric = params.symmetric();
        this.logitScale = new LogitScale(params.temperature(), params.learnable(), params.maxLogitScale());
    }

    @Override
    public List<Parameter> parameters() {
        return logitScale.parameters();
    }

    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        logitScale.capAfterStep();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray query = batch.tower(newTower).embedding();
        NDArray scale = logitScale.clipped(manager, query.getDataType());
        NDArray sameItem = sameItemMask(manager, batch, query.getDataType());
        List<NDArray> anchorEmbeddings = new ArrayList<>();
        for (String anchor : anchors) {
            anchorEmbeddings.add(batch.tower(anchor).embedding());
        }
        Map<String, NDArray> metrics = new LinkedHashMap<>();
        NDArray[] terms = new NDArray[anchors.size()];
        NDArray loss = anchoredInfoNce(manager, query, anchorEmbeddings, weights, sameItem, scale, symmetric, terms);
        for (int k = 0; k < anchors.size(); k++) {
            metrics.put("to_" + anchors.get(k), terms[k].stopGradient());
        }
        metrics.put("temperature", scale.stopGradient().neg().exp());
        return new LossOutput(loss, metrics);
    }

    /**
     * The loss of the class comment. {@code sameItem} [B, B] is M (1 where rows i != j are one item), or null
     * when every row is its own item; {@code terms}, where not null, receives each anchor's L_k.
     */
    static NDArray anchoredInfoNce(NDManager manager, NDArray query, List<NDArray> anchors, double[] weights,
            NDArray sameItem, NDArray logScale, boolean symmetric, NDArray[] terms) {
        int batchSize = Math.toIntExact(query.getShape().get(0));
        DataType dataType = query.getDataType();
        NDArray a = Scalars.normalise(query);
        NDArray factor = logScale.exp();
        NDArray diagonal = manager.eye(batchSize, batchSize, 0, dataType);
        NDArray total = null;
        double weightSum = 0;
        for (int k = 0; k < anchors.size(); k++) {
            // The anchor is the frozen space: no gradient reaches it from here, whether or not its tower is frozen.
            NDArray z = Scalars.normalise(anchors.get(k)).stopGradient();
            NDArray logits = a.matMul(z.transpose()).mul(factor);
            if (sameItem != null) {
                logits = logits.sub(Scalars.mul(sameItem, MASK_PENALTY));
            }
            NDArray term = Scalars.div(logits.logSoftmax(1).mul(diagonal).sum(), -batchSize);
            if (symmetric) {
                NDArray columns = Scalars.div(logits.logSoftmax(0).mul(diagonal).sum(), -batchSize);
                term = Scalars.div(term.add(columns), 2);
            }
            if (terms != null) {
                terms[k] = term;
            }
            NDArray weighted = Scalars.mul(term, weights[k]);
            total = total == null ? weighted : total.add(weighted);
            weightSum += weights[k];
        }
        return Scalars.div(total, weightSum);
    }

    /** M [B, B]: 1 where two different rows share a group id; null without group ids. */
    private static NDArray sameItemMask(NDManager manager, EncodedBatch batch, DataType dataType) {
        if (batch.groupsIfAny().isEmpty()) {
            return null;
        }
        List<String> groups = batch.groups();
        int n = groups.size();
        float[] mask = new float[n * n];
        boolean any = false;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (i != j && groups.get(i).equals(groups.get(j))) {
                    mask[i * n + j] = 1;
                    any = true;
                }
            }
        }
        return any ? manager.create(mask, new ai.djl.ndarray.types.Shape(n, n)).toType(dataType, false) : null;
    }
}
