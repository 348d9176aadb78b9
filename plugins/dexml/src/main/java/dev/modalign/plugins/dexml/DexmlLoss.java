package dev.modalign.plugins.dexml;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
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
import dev.modalign.plugins.logitscale.LogitScale;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * DecoupledSoftmax, the loss of "Dual-Encoders for Extreme Multi-Label Classification" (Gupta et al.,
 * ICLR 2024, Section 4), over the in-batch pairs of two towers. A query with several positives (a
 * document with many labels; an image with many captions) is trained by the softmax cross-entropy of
 * each positive in turn, and InfoNCE's denominator would then contain the query's other positives: they
 * would be pushed away as negatives, and the best the loss can do is split the probability among them.
 * DecoupledSoftmax removes a query's other positives from each positive's denominator.
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||,  S = exp(t) u v^T         t = logit_scale = log(1 / temperature)
 *   P_ij = 1 where rows i and j share their key (group id or label), so P_ii = 1;  N(i) = {j : P_ij = 0}
 *   l_ij = -log( exp(S_ij) / (exp(S_ij) + sum_{n in N(i)} exp(S_in)) )        for each positive j of i
 *   rows = 1/B sum_i 1/|P(i)| sum_{j in P(i)} l_ij
 *   loss = (rows + the same over S^T) / 2            or rows alone with symmetric: false
 * </pre>
 *
 * <p>The paper's queries are documents and its keys labels, in one direction; here either tower's rows
 * can be queries (retrieval runs both ways), so by default the loss is symmetric, as CLIP's. The
 * 1/|P(i)| average is the authors' code's (losses.py, decoupled-softmax: {@code log_prob / num_pos}).
 * With every key distinct, P is the identity and the loss is CLIP's symmetric InfoNCE exactly.
 *
 * <p>Which rows are positives: {@code positives: group} (the default) uses the records' group ids,
 * which the manifest source reads from {@code group_field} (several captions of one image, or one
 * caption of several images, share a group); a batch without group ids makes each row its own item.
 * {@code positives: label} uses the class labels ({@code label:} under data), for multi-label
 * classification with a label tower.
 *
 * <p>The temperature is fixed or learned as in CLIP: the parameter {@code logit_scale = log(1 /
 * temperature)}, clipped to log(max_logit_scale) in the forward pass and after each step. Each
 * denominator is computed as logaddexp(S_ij, logsumexp over N(i)), each part shifted by its maximum,
 * so logits in the thousands stay finite; a query without negatives (one key for the whole batch)
 * costs 0.
 */
public final class DexmlLoss implements Loss {

    /** Where the rows that are positives of each other come from. */
    public enum Positives {
        GROUP,
        LABEL
    }

    /**
     * @param temperature the softmax temperature, or its initial value when learnable
     * @param learnable learn log(1 / temperature) with the towers
     * @param maxLogitScale the cap on exp(logit_scale)
     * @param positives rows sharing a group id, or a class label, are positives of each other
     * @param symmetric also take the second tower's rows as queries
     */
    public record Params(
            @Doc("Softmax temperature: logits are cosine similarities divided by it; the initial value when learnable"
                    + " (the authors' configurations use 0.05 fixed)")
            @Default("0.07") double temperature,
            @Doc("Learn the temperature with the towers, as the parameter logit_scale = log(1 / temperature), as CLIP"
                    + " does; false keeps it fixed")
            @Default("true") boolean learnable,
            @Doc("Cap on the logit scale 1 / temperature; the learned scale is clipped to it")
            @Default("100") double maxLogitScale,
            @Doc("Which rows are positives of each other: group (rows of one group id, the manifest's group_field, e.g."
                    + " several captions of one image) or label (rows of one class label, data's label: key)")
            @Default("group") Positives positives,
            @Doc("Average the loss over both directions, each tower's rows as queries, as CLIP does; false: the"
                    + " first tower's rows are the queries, as in the paper")
            @Default("true") boolean symmetric) {

        public Params {
            LogitScale.checkParams(temperature, maxLogitScale, "CLIP starts from 0.07, the DEXML configurations use 0.05", "CLIP uses 100");
            if (positives == null) {
                throw new InvalidParamException("positives", "must be group or label, found nothing");
            }
        }
    }

    /** The name of the learned parameter, as in CLIP's checkpoints. */
    static final String LOGIT_SCALE = LogitScale.NAME;

    private static final String NAME = "dexml";

    /**
     * How far below every logit a masked entry is pushed: exp(-1e6) is 0 in any float, and logits are at
     * most max_logit_scale in size.
     */
    private static final double MASK_PENALTY = 1e6;

    private final String firstTower;
    private final String secondTower;
    private final Positives positives;
    private final boolean symmetric;
    /** The temperature: fixed, or the learned, capped logit_scale. */
    private final LogitScale logitScale;

    public DexmlLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2 || towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", NAME + " contrasts exactly two different towers, found " + towers
                    + "; name the query tower and the tower of its positives, e.g. [image, text]");
        }
        int first = context.embedDim(towers.get(0));
        int second = context.embedDim(towers.get(1));
        if (first != second) {
            throw new InvalidParamException("towers", NAME + " compares embeddings in one space, but tower '"
                    + towers.get(0) + "' embeds in " + first + " dimensions and '" + towers.get(1) + "' in " + second
                    + "; give their encoders the same embed_dim");
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.positives = params.positives();
        this.symmetric = params.symmetric();
        this.logitScale = new LogitScale(params.temperature(), params.learnable(), params.maxLogitScale());
    }

    @Override
    public List<Parameter> parameters() {
        return logitScale.parameters();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray a = Scalars.normalise(batch.tower(firstTower).embedding());
        NDArray b = Scalars.normalise(batch.tower(secondTower).embedding());
        int batchSize = Math.toIntExact(a.getShape().get(0));
        DataType dataType = a.getDataType();

        NDArray clippedLogitScale = logitScale.clipped(manager, dataType);
        NDArray logits = a.matMul(b.transpose()).mul(clippedLogitScale.exp());
        NDArray positiveMask = positiveMask(batch, batchSize, dataType, manager);

        NDArray loss = decoupledSoftmax(logits, positiveMask, batchSize);
        if (symmetric) {
            NDArray columns = decoupledSoftmax(logits.transpose(), positiveMask.transpose(), batchSize);
            loss = Scalars.div(loss.add(columns), 2);
        }
        NDArray extraPositives = Scalars.div(positiveMask.sum(), batchSize).sub(Scalars.of(positiveMask, 1));
        NDArray temperature = clippedLogitScale.stopGradient().neg().exp();
        return new LossOutput(loss, Map.of("temperature", temperature, "extra_positives", extraPositives));
    }

    /**
     * 1/B sum_i 1/|P(i)| sum_{j in P(i)} (log(exp(S_ij) + sum_{n in N(i)} exp(S_in)) - S_ij), with each
     * row's rows as queries.
     */
    private static NDArray decoupledSoftmax(NDArray logits, NDArray positiveMask, int batchSize) {
        // log sum over the negatives of each row, [B, 1]; positives are pushed out of the sum.
        NDArray negativeLogits = logits.add(Scalars.mul(positiveMask, -MASK_PENALTY));
        NDArray top = negativeLogits.max(new int[] {1}, true).stopGradient();
        NDArray negativeLogSum = negativeLogits.sub(top).exp().sum(new int[] {1}, true).log().add(top);
        // logaddexp(S_ij, negativeLogSum_i) = max + log(1 + exp(-|difference|)): both terms stay finite.
        NDArray larger = logits.maximum(negativeLogSum);
        NDArray gap = logits.sub(negativeLogSum).abs().neg().exp();
        NDArray logDenominator = larger.add(gap.add(Scalars.of(gap, 1)).log());
        NDArray perPositive = logDenominator.sub(logits).mul(positiveMask);
        NDArray perQuery = perPositive.sum(new int[] {1}).div(positiveMask.sum(new int[] {1}));
        return Scalars.div(perQuery.sum(), batchSize);
    }

    /** P [B, B], 1 where rows i and j share their key; the diagonal is always 1. No gradient. */
    private NDArray positiveMask(EncodedBatch batch, int batchSize, DataType dataType, NDManager manager) {
        NDArray keys;
        if (positives == Positives.LABEL) {
            keys = batch.labels();
            if (keys == null) {
                throw new DataException(NAME + " with positives: label needs a class label for every record, and this"
                        + " batch has none: name the record field that holds each record's class index with `label:`"
                        + " under data.train, or use positives: group with group_field in the data source");
            }
        } else {
            List<String> groups = batch.groups();
            if (groups == null) {
                return manager.eye(batchSize, batchSize, 0, dataType);
            }
            if (groups.size() != batchSize) {
                throw new DataException(NAME + " was given " + groups.size() + " group ids for a batch of " + batchSize
                        + " rows; this is a bug in the host");
            }
            keys = manager.create(denseIndices(groups));
        }
        NDArray column = keys.reshape(batchSize, 1);
        return column.eq(column.transpose()).toType(dataType, false);
    }

    /** Group ids as indices 0, 1, ... in order of first appearance. */
    static long[] denseIndices(List<String> groups) {
        Map<String, Long> indices = new HashMap<>();
        long[] dense = new long[groups.size()];
        for (int i = 0; i < dense.length; i++) {
            dense[i] = indices.computeIfAbsent(groups.get(i), id -> (long) indices.size());
        }
        return dense;
    }

    /** Clips the learned log-scale to log(max_logit_scale) after the optimiser moved it, as CLIP does. */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        logitScale.capAfterStep();
    }

}
