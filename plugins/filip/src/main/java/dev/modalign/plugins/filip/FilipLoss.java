package dev.modalign.plugins.filip;

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
import dev.modalign.api.TowerOutput;
import dev.modalign.plugins.logitscale.LogitScale;
import java.util.List;
import java.util.Map;

/**
 * The contrastive loss of "FILIP: Fine-grained Interactive Language-Image Pre-Training" (Yao et al.,
 * ICLR 2022), Section 3.1: CLIP's symmetric InfoNCE over in-batch pairs, with the global cosine
 * replaced by the token-wise late interaction of Section 3.1.1 ({@link TokenwiseSimilarity}).
 *
 * <pre>
 *   s_ab[i, j] = 1/|a_i| sum_k max_r &lt;a_ik, b_jr&gt;      (s^I: a's tokens matched in b)
 *   s_ba[j, i] = 1/|b_j| sum_r max_k &lt;a_ik, b_jr&gt;      (s^T: b's tokens matched in a)
 *   loss = ( CE over rows of exp(t) s_ab  +  CE over rows of exp(t) s_ba ) / 2,  targets the diagonal
 * </pre>
 *
 * with tokens L2-normalised, sums and maxima over real (unmasked) tokens only, and t the learned log
 * logit scale of CLIP (initialised to log(1 / temperature), clipped to log(max_logit_scale) in the
 * forward pass and after each step), which FILIP keeps. As in the paper, the image-to-text direction
 * uses s^I and the text-to-image direction s^T: each averages over its own query's tokens.
 *
 * <p>Both towers must give token features [B, T, D] of one width (the transformer's word tokens, the
 * cnn's patch tokens); a tower without them is an error at the first step naming it. The paper's
 * efficiency measures (fp16 features, dropping half of the image tokens) are not applied: at this
 * scale the [B, Ta, B, Tb] similarity is small.
 */
public final class FilipLoss implements Loss {

    /**
     * @param temperature the softmax temperature, or its initial value when learnable
     * @param learnable learn log(1 / temperature)
     * @param maxLogitScale the cap on exp(logit_scale)
     */
    public record Params(
            @Doc("Softmax temperature: logits are token-wise similarities divided by it; the initial value when"
                    + " learnable (CLIP and FILIP: 0.07)")
            @Default("0.07") double temperature,
            @Doc("Learn the temperature, as the parameter logit_scale = log(1 / temperature); false keeps it fixed")
            @Default("true") boolean learnable,
            @Doc("Cap on the logit scale 1 / temperature; the learned scale is clipped to it (CLIP uses 100)")
            @Default("100") double maxLogitScale) {

        public Params {
            LogitScale.checkParams(temperature, maxLogitScale, "FILIP starts from CLIP's 0.07", "CLIP uses 100");
        }
    }

    /** The name of the learned parameter, as in CLIP's checkpoints. */
    static final String LOGIT_SCALE = LogitScale.NAME;

    private final String firstTower;
    private final String secondTower;
    /** The temperature: fixed, or the learned, capped logit_scale. */
    private final LogitScale logitScale;

    public FilipLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2 || towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "filip contrasts exactly two different towers, found " + towers
                    + "; name the two towers whose token features it matches, e.g. [image, text]");
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.logitScale = new LogitScale(params.temperature(), params.learnable(), params.maxLogitScale());
    }

    @Override
    public List<Parameter> parameters() {
        return logitScale.parameters();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        TowerOutput first = withTokens(batch, firstTower);
        TowerOutput second = withTokens(batch, secondTower);
        NDArray a = Scalars.normalise(first.tokens(), 2);
        NDArray b = Scalars.normalise(second.tokens(), 2);
        DataType dataType = a.getDataType();
        int batchSize = Math.toIntExact(a.getShape().get(0));
        TokenwiseSimilarity.BothDirections similarity = TokenwiseSimilarity.both(a,
                TokenwiseSimilarity.maskOf(a, first.tokenMask()), b, TokenwiseSimilarity.maskOf(b, second.tokenMask()));

        NDArray logScale = logitScale.clipped(manager, dataType);
        NDArray scale = logScale.exp();
        NDArray firstToSecond = similarity.firstToSecond().mul(scale); // row i: a_i's tokens matched in every b_j
        NDArray secondToFirst = similarity.secondToFirst().mul(scale); // column j: b_j's tokens matched in every a_i
        NDArray diagonal = manager.eye(batchSize, batchSize, 0, dataType);
        NDArray lossFirst = Scalars.div(firstToSecond.logSoftmax(1).mul(diagonal).sum(), -batchSize);
        NDArray lossSecond = Scalars.div(secondToFirst.logSoftmax(0).mul(diagonal).sum(), -batchSize);
        NDArray loss = Scalars.div(lossFirst.add(lossSecond), 2);

        if (!context.metricsLogged()) {
            return new LossOutput(loss);
        }
        NDArray temperature = logScale.stopGradient().neg().exp();
        return new LossOutput(loss, Map.of("temperature", temperature,
                "accuracy", accuracy(firstToSecond.stopGradient(), secondToFirst.stopGradient(), manager)));
    }

    private static TowerOutput withTokens(EncodedBatch batch, String tower) {
        TowerOutput output = batch.tower(tower);
        if (output.tokens() == null) {
            throw new IllegalStateException("filip matches token features, but the encoder of tower '" + tower
                    + "' gives none; use an encoder with token or patch features there (transformer, cnn)");
        }
        return output;
    }

    /** Clips the learned log-scale to log(max_logit_scale) after the optimiser moved it. */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        logitScale.capAfterStep();
    }


    /**
     * In-batch top-1 matching in each direction with its own similarity: record i of the first tower
     * finds b_i first in row i, record j of the second finds a_j first in column j; averaged.
     */
    private static NDArray accuracy(NDArray firstToSecond, NDArray secondToFirst, NDManager manager) {
        long batchSize = firstToSecond.getShape().get(0);
        NDArray expected = manager.arange(0f, batchSize, 1f, DataType.INT64);
        NDArray first = firstToSecond.argMax(1).eq(expected).toType(DataType.FLOAT32, false).mean();
        NDArray second = secondToFirst.argMax(0).eq(expected).toType(DataType.FLOAT32, false).mean();
        return first.add(second).div(2);
    }
}
