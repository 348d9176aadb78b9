package dev.modalign.plugins.amcl;

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
import dev.modalign.plugins.logitscale.LogitScale;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Multi-head contrastive learning after "Adaptive Multi-head Contrastive Learning" (Wang, Koniusz,
 * Gedeon and Zheng, ECCV 2024). Under strong augmentation (here: across modalities) the two views of
 * one record are not always similar and views of two records sometimes are, so one similarity with one
 * temperature cannot separate positives from negatives everywhere. AMCL projects the embeddings with
 * several heads, each producing its own similarities with its own temperature, and sums the heads'
 * contrastive losses, each temperature regularised so that it cannot run off to an ill solution.
 *
 * <pre>
 *   p_h = normalise(a W_h),  q_h = normalise(b W_h)      W_h [D, d'], one head shared by both towers
 *   t_h = min(logit_scale_h, log(max_logit_scale)),  tau_h = exp(-t_h)
 *   S_h = exp(t_h) p_h q_h^T
 *   L_h = (CE(S_h, diag) + CE(S_h^T, diag)) / 2  +  beta * Omega(tau_h)
 *   Omega(tau) = d'/2 * log(tau) + 1/tau
 *   loss = sum over heads of L_h
 * </pre>
 *
 * <p>What this implements of the paper and what not: the C projection heads, the sum of their losses,
 * a temperature per head learned with the towers, and the temperature regulariser Omega as the first
 * author's public code computes it (github.com/LeiWangR/cl, amcl/losses.py). The paper's temperatures
 * are moreover pair-adaptive, predicted for every pair by an MLP shared across heads; here each head has
 * one temperature, as in CLIP. Omega is smallest at tau = 2 / d', so beta pulls each head's temperature
 * towards that value as strongly as beta says.
 *
 * <p>The heads and temperatures are this loss's parameters ({@code head<h>.weight} [D, d'] and {@code
 * head<h>.logit_scale}): the host initialises, optimises and checkpoints them. Each head starts as an
 * orthonormal projection drawn from the run's seed (see {@link OrthonormalInitializer}) onto a random
 * d'-dimensional subspace, d' = D / 2 unless set: heads as wide as the towers would all keep the towers'
 * cosines exactly, compute one and the same loss and stay alike (a first run on the Tux Paint stamps
 * showed three such heads' losses and temperatures equal to three decimals). As in SimCLR the heads serve
 * the loss only: evaluators see the towers' embeddings, which the shared heads pull into alignment. A logit scale is clipped to log(max_logit_scale) in the forward pass
 * and after each step, as CLIP's. Per head the loss logs {@code loss/head<h>} (its InfoNCE) and {@code
 * temperature/head<h>}.
 */
public final class AmclLoss implements Loss {

    /**
     * @param heads the number of projection heads C
     * @param headDim d', the heads' output size, or null for half the towers' embedding size
     * @param temperature every head's initial temperature
     * @param maxLogitScale the cap on exp(logit_scale_h)
     * @param beta the weight of the temperature regulariser
     */
    public record Params(
            @Doc("Number of projection heads C, each with its own learned temperature") @Default("3") int heads,
            @Doc("Output size d' of every head; empty: half the towers' embed_dim, so that each head sees its own random"
                    + " subspace (full-width orthonormal heads all keep the same cosines and compute the same loss)")
            @Default("null") Integer headDim,
            @Doc("Initial temperature of every head: logits are cosine similarities divided by it") @Default("0.07")
            double temperature,
            @Doc("Cap on a head's logit scale 1 / temperature; the learned scale is clipped to it") @Default("100")
            double maxLogitScale,
            @Doc("Weight beta of the temperature regulariser Omega(tau) = d'/2 log(tau) + 1/tau on every head (the"
                    + " authors' code uses 0.01); 0 turns it off")
            @Default("0.01") double beta) {

        public Params {
            if (heads < 1) {
                throw new InvalidParamException("heads", "must be at least 1, found " + heads + "; the paper uses 3");
            }
            if (headDim != null && headDim < 1) {
                throw new InvalidParamException("head_dim", "must be at least 1, found " + headDim
                        + "; leave it out for the towers' embed_dim");
            }
            LogitScale.checkParams(temperature, maxLogitScale, null, null);
            if (!(beta >= 0) || !Double.isFinite(beta)) {
                throw new InvalidParamException("beta", "must be a finite number >= 0, found " + beta);
            }
        }
    }

    private static final String NAME = "amcl";

    /** One projection head: its weight [D, d'] and its log-scale log(1 / temperature). */
    record Head(Parameter weight, Parameter logitScale) {}

    private final String firstTower;
    private final String secondTower;
    private final int headDim;
    private final double beta;
    private final float logitScaleCap;
    private final List<Head> heads;

    public AmclLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2 || towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", NAME + " contrasts exactly two different towers, found " + towers
                    + "; name them, e.g. [image, text]");
        }
        int dim = context.embedDim(towers.get(0));
        if (context.embedDim(towers.get(1)) != dim) {
            throw new InvalidParamException("towers", NAME + " projects both towers with the same heads, but tower '"
                    + towers.get(0) + "' embeds in " + dim + " dimensions and '" + towers.get(1) + "' in "
                    + context.embedDim(towers.get(1)) + "; give their encoders the same embed_dim");
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.headDim = params.headDim() == null ? Math.max(1, dim / 2) : params.headDim();
        this.beta = params.beta();
        this.logitScaleCap = (float) Math.log(params.maxLogitScale());
        float initialLogitScale = (float) Math.log(1 / params.temperature());
        List<Head> built = new ArrayList<>();
        for (int h = 0; h < params.heads(); h++) {
            Parameter weight = Parameter.builder()
                    .setName("head" + h + ".weight")
                    .setType(Parameter.Type.WEIGHT)
                    .optShape(new Shape(dim, headDim))
                    .optInitializer(new OrthonormalInitializer(OrthonormalInitializer.derive(context.seed(), h)))
                    .build();
            Parameter logitScale = Parameter.builder()
                    .setName("head" + h + ".logit_scale")
                    .setType(Parameter.Type.OTHER)
                    .optShape(new Shape())
                    .optInitializer(new ConstantInitializer(initialLogitScale))
                    .build();
            built.add(new Head(weight, logitScale));
        }
        this.heads = List.copyOf(built);
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> parameters = new ArrayList<>();
        for (Head head : heads) {
            parameters.add(head.weight());
            parameters.add(head.logitScale());
        }
        return parameters;
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray a = batch.tower(firstTower).embedding();
        NDArray b = batch.tower(secondTower).embedding();
        int batchSize = Math.toIntExact(a.getShape().get(0));
        DataType dataType = a.getDataType();
        NDArray diagonal = manager.eye(batchSize, batchSize, 0, dataType);

        Map<String, NDArray> metrics = new LinkedHashMap<>();
        NDArray total = null;
        for (int h = 0; h < heads.size(); h++) {
            Head head = heads.get(h);
            NDArray weight = stepValue(head.weight(), manager, dataType);
            NDArray logitScale = stepValue(head.logitScale(), manager, dataType)
                    .clip(Float.NEGATIVE_INFINITY, logitScaleCap);
            NDArray p = Scalars.normalise(a.matMul(weight));
            NDArray q = Scalars.normalise(b.matMul(weight));
            NDArray logits = p.matMul(q.transpose()).mul(logitScale.exp());
            NDArray rows = Scalars.div(logits.logSoftmax(1).mul(diagonal).sum(), -batchSize);
            NDArray columns = Scalars.div(logits.logSoftmax(0).mul(diagonal).sum(), -batchSize);
            NDArray infoNce = Scalars.div(rows.add(columns), 2);
            // Omega(tau) = d'/2 log(tau) + 1/tau with tau = exp(-t): -d'/2 t + exp(t).
            NDArray omega = Scalars.mul(logitScale, -headDim / 2.0).add(logitScale.exp());
            NDArray headLoss = beta == 0 ? infoNce : infoNce.add(Scalars.mul(omega, beta));
            total = total == null ? headLoss : total.add(headLoss);
            metrics.put("loss/head" + h, infoNce.stopGradient());
            metrics.put("temperature/head" + h, logitScale.stopGradient().neg().exp());
        }
        return new LossOutput(total, metrics);
    }

    /** Clips every head's learned log-scale to log(max_logit_scale) after the optimiser moved it, as CLIP does. */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        for (Head head : heads) {
            NDArray array = head.logitScale().getArray();
            if (array.getFloat() > logitScaleCap) {
                array.set(new float[] {logitScaleCap});
            }
        }
    }

    /**
     * A parameter's value for this step in the step's manager. A copying toType is differentiable
     * (duplicate() is not: it detaches); moving the copy to the step's manager keeps the arrays of the
     * ops below out of the parameter's manager, which lives as long as the run.
     */
    private static NDArray stepValue(Parameter parameter, NDManager manager, DataType dataType) {
        NDArray value = parameter.getArray().toType(dataType, true);
        value.attach(manager);
        return value;
    }
}
