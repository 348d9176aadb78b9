package dev.modalign.plugins.modalitydropout;

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
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Modality dropout for N towers, after "MMG-Ego4D: Multi-Modal Generalization in Egocentric Action
 * Recognition" (Gong et al., CVPR 2023): a model of several modalities learns to lean on all of them, and
 * fails when one is missing at test time (a sensor off, a recording without sound); leaving whole
 * modalities out during training makes it learn what each subset can do. The paper drops modalities
 * before a fusion network; here towers are contrasted in pairs, so a dropped tower simply takes no part
 * in the step's loss:
 *
 * <pre>
 *   each step: shuffle the towers with the step's generator; the first min_towers are kept;
 *              each other tower is dropped with probability p
 *   u_k = x_k / ||x_k||,  s = exp(min(logit_scale, log(max_logit_scale)))
 *   L_kl = (CE(s u_k u_l^T, diag) + CE(s u_l u_k^T, diag)) / 2        CLIP's symmetric InfoNCE
 *   loss = sum over the pairs k &lt; l of kept towers of L_kl
 * </pre>
 *
 * <p>The draw uses {@link StepContext#rng()}, seeded from the run's seed and the step, so a run is
 * reproducible; when the loss is computed outside training ({@code training} false) every tower is kept.
 * The host still encodes a dropped tower (a loss cannot skip an encoder); its embeddings join the loss
 * with weight 0, so its encoder's gradient that step is zero (AdamW's moving averages still carry its
 * parameters a little, as after any step without signal). With p = 0 this is the pairwise loss over all
 * towers. One temperature serves every pair and may be learned as CLIP's {@code logit_scale}. Metrics:
 * {@code towers_kept}, {@code kept/<tower>} (1 or 0), {@code loss/<a>-<b>} for the kept pairs, and {@code
 * temperature}. Measure the effect with the {@code missing-modality} evaluator.
 */
public final class ModalityDropoutLoss implements Loss {

    /**
     * @param p the probability that a tower beyond the required minimum is dropped at a step
     * @param minTowers how many towers every step keeps, chosen at random
     * @param temperature the softmax temperature, or its initial value when learnable
     * @param learnable learn log(1 / temperature) with the towers
     * @param maxLogitScale the cap on exp(logit_scale)
     */
    public record Params(
            @Doc("Probability that each tower beyond the required minimum is dropped at a training step; 0 keeps every"
                    + " tower (the pairwise loss)")
            @Default("0.5") double p,
            @Doc("How many towers every step keeps (at least 2, so that a pair is left), chosen at random each step")
            @Default("2") int minTowers,
            @Doc("Softmax temperature shared by every pair; the initial value when learnable") @Default("0.07")
            double temperature,
            @Doc("Learn the temperature with the towers, as the parameter logit_scale = log(1 / temperature)")
            @Default("true") boolean learnable,
            @Doc("Cap on the logit scale 1 / temperature; the learned scale is clipped to it") @Default("100")
            double maxLogitScale) {

        public Params {
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "is a probability, between 0 and 1, found " + p);
            }
            if (minTowers < 2) {
                throw new InvalidParamException("min_towers", "must be at least 2, so that every step has a pair to"
                        + " contrast, found " + minTowers);
            }
            LogitScale.checkParams(temperature, maxLogitScale, null, null);
        }
    }

    /** The name of the learned parameter, as in CLIP's checkpoints. */
    static final String LOGIT_SCALE = LogitScale.NAME;

    private static final String NAME = "modality-dropout";

    private final List<String> towers;
    private final double p;
    private final int minTowers;
    /** The temperature: fixed, or the learned, capped logit_scale. */
    private final LogitScale logitScale;

    public ModalityDropoutLoss(Params params, ComponentContext context) {
        List<String> named = context.towers();
        if (named.size() < 2) {
            throw new InvalidParamException("towers", NAME + " contrasts the pairs of at least two towers (three or more"
                    + " to drop any), found " + named + "; name them, e.g. [image, audio, text]");
        }
        if (new HashSet<>(named).size() != named.size()) {
            throw new InvalidParamException("towers", NAME + " names each tower once, found " + named);
        }
        if (params.minTowers() > named.size()) {
            throw new InvalidParamException("min_towers", "is " + params.minTowers() + " but only " + named.size()
                    + " towers are named " + named + "; keep at most as many as there are");
        }
        int dim = context.embedDim(named.get(0));
        for (String tower : named) {
            if (context.embedDim(tower) != dim) {
                throw new InvalidParamException("towers", NAME + " compares every pair in one space, but tower '"
                        + named.get(0) + "' embeds in " + dim + " dimensions and '" + tower + "' in "
                        + context.embedDim(tower) + "; give their encoders the same embed_dim");
            }
        }
        this.towers = List.copyOf(named);
        this.p = params.p();
        this.minTowers = params.minTowers();
        this.logitScale = new LogitScale(params.temperature(), params.learnable(), params.maxLogitScale());
    }

    @Override
    public List<Parameter> parameters() {
        return logitScale.parameters();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        return compute(batch, context, context.training() ? draw(context.rng()) : keepAll());
    }

    /**
     * Which towers a step keeps, in the towers' order: a random min_towers of them always, each other one
     * unless a draw below p drops it. Consumes the generator in a fixed order: the shuffle, then one double
     * per tower beyond the minimum in shuffled order.
     */
    boolean[] draw(Random random) {
        List<Integer> order = new ArrayList<>();
        for (int k = 0; k < towers.size(); k++) {
            order.add(k);
        }
        Collections.shuffle(order, random);
        boolean[] kept = new boolean[towers.size()];
        for (int position = 0; position < order.size(); position++) {
            kept[order.get(position)] = position < minTowers || random.nextDouble() >= p;
        }
        return kept;
    }

    private boolean[] keepAll() {
        boolean[] kept = new boolean[towers.size()];
        Arrays.fill(kept, true);
        return kept;
    }

    /** The loss over the pairs of the towers {@code kept} marks, in the towers' order. */
    LossOutput compute(EncodedBatch batch, StepContext context, boolean[] kept) {
        NDManager manager = context.manager();
        List<NDArray> normalised = new ArrayList<>();
        for (int k = 0; k < towers.size(); k++) {
            normalised.add(kept[k] ? Scalars.normalise(batch.tower(towers.get(k)).embedding()) : null);
        }
        NDArray any = batch.tower(towers.get(0)).embedding();
        int batchSize = Math.toIntExact(any.getShape().get(0));
        DataType dataType = any.getDataType();
        NDArray clippedLogitScale = logitScale.clipped(manager, dataType);
        NDArray scale = clippedLogitScale.exp();
        NDArray diagonal = manager.eye(batchSize, batchSize, 0, dataType);

        Map<String, NDArray> metrics = new LinkedHashMap<>();
        NDArray total = null;
        int keptCount = 0;
        for (int k = 0; k < towers.size(); k++) {
            keptCount += kept[k] ? 1 : 0;
            metrics.put("kept/" + towers.get(k), Scalars.of(diagonal, kept[k] ? 1 : 0));
            for (int l = k + 1; l < towers.size(); l++) {
                if (!kept[k] || !kept[l]) {
                    continue;
                }
                NDArray logits = normalised.get(k).matMul(normalised.get(l).transpose()).mul(scale);
                NDArray rows = Scalars.div(logits.logSoftmax(1).mul(diagonal).sum(), -batchSize);
                NDArray columns = Scalars.div(logits.logSoftmax(0).mul(diagonal).sum(), -batchSize);
                NDArray pairLoss = Scalars.div(rows.add(columns), 2);
                metrics.put("loss/" + towers.get(k) + "-" + towers.get(l), pairLoss.stopGradient());
                total = total == null ? pairLoss : total.add(pairLoss);
            }
        }
        if (total == null) {
            throw new IllegalStateException(NAME + " kept fewer than two towers " + Arrays.toString(kept)
                    + "; this is a bug: min_towers is at least 2");
        }
        for (int k = 0; k < towers.size(); k++) {
            if (!kept[k]) {
                // Weight 0: the dropped tower's encoder gets a defined, zero gradient (the optimiser reads every
                // trainable parameter's gradient), and nothing of the tower reaches the loss's value.
                total = total.add(Scalars.mul(batch.tower(towers.get(k)).embedding().sum(), 0));
            }
        }
        metrics.put("towers_kept", Scalars.of(diagonal, keptCount));
        metrics.put("temperature", clippedLogitScale.stopGradient().neg().exp());
        return new LossOutput(total, metrics);
    }

    /** Clips the learned log-scale to log(max_logit_scale) after the optimiser moved it, as CLIP does. */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        logitScale.capAfterStep();
    }

}
