package dev.modalign.plugins.cwcl;

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
import java.util.List;
import java.util.Map;

/**
 * The Continuously Weighted Contrastive Loss of "CWCL: Cross-Modal Transfer with Continuously
 * Weighted Contrastive Loss" (Srinivasa et al., NeurIPS 2023). Plain InfoNCE treats pair (i, i) as
 * the only positive of anchor i and every other candidate as equally negative; CWCL instead weighs
 * every candidate j by how similar records i and j are in the embedding space of a frozen,
 * pretrained tower, so that the structure of that space is transferred to the tower being trained.
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||,  q = t / ||t||      rows L2-normalised; t from the frozen teacher
 *   w_ij = &lt;q_i, q_j&gt; / 2 + 1/2                     the paper's weights, in [0, 1], w_ii = 1
 *   S = exp(logit_scale) u v^T
 *   L_ab = -1/B sum_i sum_j (w_ij / sum_k w_ik) log softmax_j(S_i.)    anchors in a, candidates in b
 *   L_ba = -1/B sum_j sum_i (w_ji / sum_k w_jk) log softmax_i(S_.j)    anchors in b, candidates in a
 *   loss = (L_ab + L_ba) / 2
 * </pre>
 *
 * <p>The paper defines the loss from the pretrained modality U to the trained one V with the
 * intra-modal similarity weights of U, normalised per anchor by their sum, and uses it in both
 * directions; it maps w = &lt;q_i, q_j&gt; from [-1, 1] to [0, 1] by w / 2 + 1/2. Here the two
 * contrasted towers are the loss's {@code towers} and the weights come from the tower named by
 * {@code teacher}. The teacher may be one of the two (the paper's setting: a frozen image tower
 * against a trained text tower, as in LiT) or a third tower that reads one side's field (both
 * contrasted towers train, the third only weighs the targets). Both directions use the same
 * symmetric weights; they are averaged, as CLIP averages its two cross-entropies, so that weight 1
 * means the same scale as {@code clip} (the paper's sum is weight 2).
 *
 * <p>The teacher's embeddings are constants here: gradients never flow through the weights, even
 * where the teacher is one of the contrasted towers. Declare the teacher tower {@code frozen: true};
 * a trainable teacher would learn only from the other losses.
 *
 * <p>The temperature is CLIP's (the paper trains in LiT's set-up, which keeps CLIP's learnable
 * temperature): {@code logit_scale = log(1 / temperature)}, clipped to log(max_logit_scale) in the
 * forward pass and after each step. The cross-entropies go through log-softmax, which subtracts
 * each row's maximum before exponentiating, so logits in the thousands stay finite. Besides the
 * temperature, the metric {@code offdiagonal_weight} is the mean w_ij over pairs i != j: how alike the
 * teacher finds the batch's records (1/2 for orthogonal embeddings, 1 for identical ones).
 */
public final class CwclLoss implements Loss {

    /**
     * @param teacher the tower whose embeddings weigh the targets
     * @param temperature the softmax temperature, or its initial value when learnable
     * @param learnable learn log(1 / temperature) with the towers
     * @param maxLogitScale the cap on exp(logit_scale)
     */
    public record Params(
            @Doc("The frozen tower whose intra-modal cosine similarities weigh the targets: w_ij = (1 + cos(q_i, q_j))"
                    + " / 2. One of the two towers (the paper's setting) or a third tower reading the same field")
            String teacher,
            @Doc("Softmax temperature: logits are cosine similarities divided by it; the initial value when learnable")
            @Default("0.07") double temperature,
            @Doc("Learn the temperature with the towers, as the parameter logit_scale = log(1 / temperature);"
                    + " false keeps it fixed")
            @Default("true") boolean learnable,
            @Doc("Cap on the logit scale 1 / temperature; the learned scale is clipped to it (CLIP uses 100)")
            @Default("100") double maxLogitScale) {

        public Params {
            if (teacher == null || teacher.isBlank()) {
                throw new InvalidParamException("teacher", "name the frozen tower whose embeddings weigh the targets,"
                        + " e.g. teacher: text_teacher, found " + (teacher == null ? "nothing" : "'" + teacher + "'"));
            }
            LogitScale.checkParams(temperature, maxLogitScale, "CLIP and LiT start from 0.07", "CLIP uses 100");
        }
    }

    /** The name of the learned parameter, as in CLIP's checkpoints. */
    static final String LOGIT_SCALE = LogitScale.NAME;

    private final String firstTower;
    private final String secondTower;
    private final String teacher;
    /** The temperature: fixed, or the learned, capped logit_scale. */
    private final LogitScale logitScale;

    public CwclLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "cwcl contrasts exactly two towers, found " + towers
                    + "; name the two towers whose pairs it aligns, e.g. [image, text], and the frozen one with teacher");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "cwcl contrasts two different towers, found " + towers
                    + "; a tower against itself makes every row its own positive");
        }
        int first = embedDim(context, towers.get(0), "towers");
        int second = embedDim(context, towers.get(1), "towers");
        if (first != second) {
            throw new InvalidParamException("towers", "cwcl compares embeddings in one space, but tower '" + towers.get(0)
                    + "' embeds in " + first + " dimensions and '" + towers.get(1) + "' in " + second
                    + "; give their encoders the same embed_dim");
        }
        embedDim(context, params.teacher(), "teacher");
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.teacher = params.teacher();
        this.logitScale = new LogitScale(params.temperature(), params.learnable(), params.maxLogitScale());
    }

    /** A tower's embedding size; a name the run has no tower for is reported by the key that gave it. */
    private static int embedDim(ComponentContext context, String tower, String key) {
        try {
            return context.embedDim(tower);
        } catch (IllegalArgumentException e) {
            throw new InvalidParamException(key, "names no tower of this experiment, found '" + tower + "' ("
                    + e.getMessage() + "); declare it under towers:");
        }
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

        NDArray weights = targets(batch.tower(teacher).embedding());
        NDArray clippedLogitScale = logitScale.clipped(manager, dataType);
        NDArray logits = a.matMul(b.transpose()).mul(clippedLogitScale.exp());

        // Each direction is the cross-entropy between the row-normalised weights and the softmax of
        // the logits over the candidates: rows for anchors in a, columns for anchors in b.
        NDArray firstToSecond = Scalars.div(logits.logSoftmax(1).mul(weights).sum(), -batchSize);
        NDArray secondToFirst = Scalars.div(logits.logSoftmax(0).mul(weights.transpose()).sum(), -batchSize);
        NDArray loss = Scalars.div(firstToSecond.add(secondToFirst), 2);

        NDArray temperature = clippedLogitScale.stopGradient().neg().exp();
        return new LossOutput(loss, Map.of("temperature", temperature,
                "offdiagonal_weight", meanOffDiagonal(batch.tower(teacher).embedding(), batchSize)));
    }

    /**
     * The row-normalised weights w_ij / sum_k w_ik from the teacher's embeddings, without gradient: the
     * teacher is frozen, and even a teacher that trains elsewhere only weighs this loss's targets.
     */
    static NDArray targets(NDArray teacherEmbedding) {
        NDArray weights = similarityWeights(teacherEmbedding);
        return weights.div(weights.sum(new int[] {1}, true));
    }

    /** w_ij = (1 + cos(q_i, q_j)) / 2, detached. */
    private static NDArray similarityWeights(NDArray teacherEmbedding) {
        NDArray q = Scalars.normalise(teacherEmbedding.stopGradient());
        return Scalars.div(Scalars.of(q, 1).add(q.matMul(q.transpose())), 2);
    }

    /** The mean weight between different records: how alike the teacher finds the batch (1: all alike). */
    private static NDArray meanOffDiagonal(NDArray teacherEmbedding, int batchSize) {
        NDArray weights = similarityWeights(teacherEmbedding);
        if (batchSize < 2) {
            return Scalars.of(weights, 0);
        }
        NDArray diagonal = weights.getManager().eye(batchSize, batchSize, 0, weights.getDataType());
        NDArray offDiagonal = weights.sum().sub(weights.mul(diagonal).sum());
        return Scalars.div(offDiagonal, (double) batchSize * (batchSize - 1));
    }

    /** Clips the learned log-scale to log(max_logit_scale) after the optimiser moved it, as CLIP does. */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        logitScale.capAfterStep();
    }


}
