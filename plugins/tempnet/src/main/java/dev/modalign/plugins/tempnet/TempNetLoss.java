package dev.modalign.plugins.tempnet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The robust contrastive loss with personalised temperatures of "To Cool or not to Cool? Temperature
 * Network Meets Large Foundation Models via DRO" (Qiu, Guo, Xu, Zhao, Zhang and Yang, ICML 2024).
 *
 * <p>For an anchor i, a KL-constrained distributionally robust loss over its negatives j, max over
 * weights p with KL(p, uniform) &lt;= rho of sum_j p_j (s_ij - s_ii), has the dual
 * min over tau of tau log mean_j exp((s_ij - s_ii) / tau) + rho tau, where tau is the anchor's
 * temperature. TempNet makes tau a function of the anchor, tau_i = TempNet(x_i) ({@link
 * TemperatureNetwork}), and learns the network by minimising the dual with the towers:
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||,  S = u v^T                 rows L2-normalised
 *   tau^a = TempNet_a(u),  tau^b = TempNet_b(v)               inputs detached
 *   L(S, tau) = mean_i [ tau_i log( 1/(B-1) sum_{j != i} exp((S_ij - S_ii) / tau_i) ) + rho tau_i ]
 *   loss = L(S, tau^a) + L(S^T, tau^b)                        first->second plus second->first
 * </pre>
 *
 * <p>Choices, where the paper's authors' CLIP code (zhqiu/TempNet, Bimodal_CL/models/losses.py,
 * iSogCLR_TempNet_Loss) and this class differ or where the paper leaves a choice: each tower has its
 * own network and each direction uses its anchors' temperatures, as in that code; the networks read the
 * detached normalised embeddings, as there; the two directions are summed, not averaged, as there; the
 * inner mean over negatives is the batch's own, where the authors track it with a per-sample moving
 * average across epochs (SogCLR), which needs data set indices; the log-sum-exp subtracts each row's
 * largest term, so temperatures of 0.001 do not overflow. With one record there are no negatives and the
 * loss is 0. The authors also give the network a smaller learning rate (3e-5 against 2e-4); here it
 * shares the run's optimiser.
 */
public final class TempNetLoss implements Loss {

    /**
     * @param rho the radius of the KL ball
     * @param tauMin the smallest temperature
     * @param tauMax the largest temperature
     * @param prototypes the number of prototypes of each network
     */
    public record Params(
            @Doc("Radius rho of the KL constraint of the DRO objective: the loss adds rho * tau per anchor. The"
                    + " default 7.0 is the authors' CLIP setting on CC3M (their run_isogclr_tempnet.sh; their loss"
                    + " class defaults to 8.0). The constraint only binds when rho < log(B - 1) for batch size B:"
                    + " above it every temperature is pushed down to tau_min, so smaller batches need a smaller rho")
            @Default("7.0") double rho,
            @Doc("Smallest temperature the network predicts (the authors' TempGenerator: 0.005)")
            @Default("0.005") double tauMin,
            @Doc("Largest temperature the network predicts (the authors' TempGenerator: 0.05)")
            @Default("0.05") double tauMax,
            @Doc("Number of learned prototypes of each tower's network, whose similarities to the input decide its"
                    + " temperature (the authors' M = 256)")
            @Default("256") int prototypes) {

        public Params {
            if (!(rho >= 0) || !Double.isFinite(rho)) {
                throw new InvalidParamException("rho", "must be a finite number >= 0, found " + rho
                        + "; the authors use 7.0 for CLIP on CC3M");
            }
            if (!(tauMin > 0) || !Double.isFinite(tauMin)) {
                throw new InvalidParamException("tau_min", "must be > 0, found " + tauMin + "; the authors use 0.005");
            }
            if (!(tauMax > tauMin) || !Double.isFinite(tauMax)) {
                throw new InvalidParamException("tau_max", "must be a finite number above tau_min " + tauMin
                        + ", found " + tauMax + "; the authors use 0.05");
            }
            if (prototypes < 1) {
                throw new InvalidParamException("prototypes", "must be >= 1, found " + prototypes
                        + "; the authors use 256");
            }
        }
    }

    private final String firstTower;
    private final String secondTower;
    private final double rho;
    private final TemperatureNetwork firstNetwork;
    private final TemperatureNetwork secondNetwork;

    public TempNetLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "tempnet reads exactly two towers, found " + towers
                    + "; name the two towers whose pairs it contrasts, e.g. [image, text]");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "tempnet contrasts two different towers, found " + towers
                    + "; a tower against itself makes every row its own positive");
        }
        int firstDim = context.embedDim(towers.get(0));
        int secondDim = context.embedDim(towers.get(1));
        if (firstDim != secondDim) {
            throw new InvalidParamException("towers", "tempnet compares embeddings in one space, but tower '"
                    + towers.get(0) + "' embeds in " + firstDim + " dimensions and '" + towers.get(1) + "' in "
                    + secondDim + "; give their encoders the same embed_dim");
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.rho = params.rho();
        this.firstNetwork = new TemperatureNetwork(firstTower, firstDim, params.prototypes(), params.tauMin(),
                params.tauMax(), context.seed(), 0);
        this.secondNetwork = new TemperatureNetwork(secondTower, secondDim, params.prototypes(), params.tauMin(),
                params.tauMax(), context.seed(), 1);
    }

    /** The first tower's network's weights, then the second's, each in {@link TemperatureNetwork#parameters()} order. */
    @Override
    public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>(firstNetwork.parameters());
        all.addAll(secondNetwork.parameters());
        return List.copyOf(all);
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray u = Scalars.normalise(batch.tower(firstTower).embedding());
        NDArray v = Scalars.normalise(batch.tower(secondTower).embedding());
        int batchSize = Math.toIntExact(u.getShape().get(0));

        NDArray firstTemperatures = firstNetwork.temperatures(u.stopGradient(), manager);
        NDArray secondTemperatures = secondNetwork.temperatures(v.stopGradient(), manager);
        NDArray similarities = u.matMul(v.transpose());
        NDArray loss;
        if (batchSize < 2) {
            // No negatives: the robust loss is over an empty set. Zero, but kept in the graph so that every
            // weight gets a (zero) gradient, as an optimiser binding gradients at the first step expects.
            NDArray connected = similarities.sum().add(firstTemperatures.sum()).add(secondTemperatures.sum());
            loss = Scalars.mul(connected, 0);
        } else {
            loss = robust(similarities, firstTemperatures, manager)
                    .add(robust(similarities.transpose(), secondTemperatures, manager));
        }
        NDArray all = firstTemperatures.stopGradient().concat(secondTemperatures.stopGradient());
        return new LossOutput(loss, Map.of(
                "temperature", all.mean(),
                "temperature_min", all.min(),
                "temperature_max", all.max()));
    }

    /**
     * L(S, tau) of the class comment for anchors on the rows of {@code similarities} [B, B] with
     * temperatures [B], B &gt;= 2: the per-anchor dual of the KL-constrained DRO loss over the negatives.
     */
    private NDArray robust(NDArray similarities, NDArray temperatures, NDManager manager) {
        int batchSize = Math.toIntExact(similarities.getShape().get(0));
        DataType dataType = similarities.getDataType();
        NDArray margins = similarities.sub(similarities.diagonal().expandDims(1));
        NDArray scaled = margins.div(temperatures.expandDims(1));
        // The positive is not among the negatives: -inf on the diagonal drops it from the log-sum-exp.
        NDArray negatives = scaled.add(diagonalOf(manager, batchSize, Float.NEGATIVE_INFINITY, dataType));
        NDArray peak = negatives.max(new int[] {1}, true).stopGradient();
        NDArray logSumExp = negatives.sub(peak).exp().sum(new int[] {1}).log().add(peak.squeeze(1));
        NDArray logMean = logSumExp.sub(Scalars.of(logSumExp, Math.log(batchSize - 1)));
        return temperatures.mul(logMean.add(Scalars.of(logMean, rho))).mean();
    }

    /** A [B, B] array with {@code value} on the diagonal and 0 elsewhere (0 * -inf would be NaN, so no eye product). */
    private static NDArray diagonalOf(NDManager manager, int batchSize, float value, DataType dataType) {
        float[] values = new float[batchSize * batchSize];
        for (int i = 0; i < batchSize; i++) {
            values[i * batchSize + i] = value;
        }
        return manager.create(values, new Shape(batchSize, batchSize)).toType(dataType, false);
    }

}
