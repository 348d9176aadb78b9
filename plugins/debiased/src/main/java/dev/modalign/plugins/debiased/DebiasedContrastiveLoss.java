package dev.modalign.plugins.debiased;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.modalign.api.ComponentContext;
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
 * The debiased contrastive loss of "Debiased Contrastive Learning" (Chuang et al., NeurIPS 2020),
 * Eq. (6) with one positive per anchor, across two towers.
 *
 * <p>In-batch negatives are drawn without labels, so a fraction tau_plus of them (the class prior)
 * are really of the anchor's class. Eq. (6) replaces the sum over the N negatives by an estimate of
 * the sum over true negatives: the observed sum less tau_plus times N copies of the positive, scaled
 * by 1 / (1 - tau_plus), and floored at its theoretical minimum N e^{-1/t}.
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||,  l = u v^T / t
 *   pos_i = exp(l_ii),   neg_i = sum_{j != i} exp(l_ij),   N = B - 1
 *   Ng_i  = max( (neg_i - tau_plus * N * pos_i) / (1 - tau_plus),  N * exp(-1/t) )
 *   L_i   = -log( pos_i / (pos_i + Ng_i) )
 *   loss  = (mean_i L_i over l  +  mean_i L_i over l^T) / 2
 * </pre>
 *
 * <p>The paper's setting is one modality with two augmented views (SimCLR, N = 2B - 2); here anchor
 * a_i of the first tower has b_i for its positive and the other rows of the second tower for its
 * negatives, and the same with the towers swapped, as CLIP does. With tau_plus = 0 the estimate is
 * the plain negative sum and the loss is CLIP's InfoNCE at a fixed temperature.
 *
 * <p>Every exponential of a row is taken after subtracting the row's largest logit, which leaves
 * L_i unchanged (the floor is shifted with it), so logits in the thousands stay finite.
 */
public final class DebiasedContrastiveLoss implements Loss {

    /**
     * @param temperature the softmax temperature t
     * @param tauPlus the class prior: the probability that a negative shares the anchor's class
     */
    public record Params(
            @Doc("Temperature t: logits are cosine similarities divided by it (the paper uses 0.5)")
            @Default("0.5") double temperature,
            @Doc("Class prior tau_plus: the expected fraction of in-batch negatives that share the anchor's class,"
                    + " in [0, 1); 0 gives the uncorrected loss (the paper uses 0.1)")
            @Default("0.1") double tauPlus) {

        public Params {
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be a finite number > 0, found " + temperature
                        + "; the paper uses 0.5");
            }
            if (!(tauPlus >= 0 && tauPlus < 1)) {
                throw new InvalidParamException("tau_plus", "is a probability in [0, 1), found " + tauPlus
                        + "; about 1 / (number of classes), the paper uses 0.1");
            }
        }
    }

    private final String firstTower;
    private final String secondTower;
    private final double temperature;
    private final double tauPlus;

    public DebiasedContrastiveLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "debiased reads exactly two towers, found " + towers
                    + "; name the two towers whose pairs it contrasts, e.g. [image, text]");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "debiased contrasts two different towers, found " + towers
                    + "; a tower against itself makes every row its own positive");
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.temperature = params.temperature();
        this.tauPlus = params.tauPlus();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray a = Scalars.normalise(batch.tower(firstTower).embedding());
        NDArray b = Scalars.normalise(batch.tower(secondTower).embedding());
        NDArray logits = Scalars.div(a.matMul(b.transpose()), temperature);
        Direction firstToSecond = direction(logits, manager);
        Direction secondToFirst = direction(logits.transpose(), manager);
        NDArray loss = Scalars.div(firstToSecond.loss().add(secondToFirst.loss()), 2);
        NDArray clampedFraction = Scalars.div(firstToSecond.clamped().add(secondToFirst.clamped()), 2);
        return new LossOutput(loss, Map.of("clamped_fraction", clampedFraction));
    }

    /** One direction's mean loss and the fraction of its rows whose estimate was floored (detached). */
    private record Direction(NDArray loss, NDArray clamped) {}

    /** Eq. (6) for each row of {@code logits} [B, B], whose diagonal holds the positives. */
    private Direction direction(NDArray logits, NDManager manager) {
        int batchSize = Math.toIntExact(logits.getShape().get(0));
        int negatives = batchSize - 1;
        DataType dataType = logits.getDataType();
        NDArray identity = manager.eye(batchSize, batchSize, 0, dataType);
        NDArray offDiagonal = manager.ones(identity.getShape(), dataType).sub(identity);

        // A constant per row: subtracting it changes no L_i, so it carries no gradient.
        NDArray shift = logits.stopGradient().max(new int[] {1}, true);
        NDArray exps = logits.sub(shift).exp();
        NDArray positive = exps.mul(identity).sum(new int[] {1});
        NDArray negative = exps.mul(offDiagonal).sum(new int[] {1});
        NDArray estimate = Scalars.div(negative.sub(Scalars.mul(positive, tauPlus * negatives)), 1 - tauPlus);
        // N e^{-1/t}, shifted like the rest of the row: N exp(-1/t - shift).
        NDArray rowShift = shift.squeeze(1);
        NDArray floor = Scalars.mul(rowShift.add(Scalars.of(rowShift, 1 / temperature)).neg().exp(), negatives);
        NDArray negativeEstimate = estimate.maximum(floor);
        // L_i = log(pos_i + Ng_i) - log(pos_i), with log(pos_i) = l_ii - shift_i taken from the logit.
        NDArray logPositive = logits.mul(identity).sum(new int[] {1}).sub(rowShift);
        NDArray loss = positive.add(negativeEstimate).log().sub(logPositive).mean();
        NDArray clamped = estimate.stopGradient().lt(floor).toType(dataType, false).mean();
        return new Direction(loss, clamped);
    }

}
