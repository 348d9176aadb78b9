package dev.modalign.plugins.clip;

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
 * The CLIP loss of "Learning Transferable Visual Models From Natural Language Supervision"
 * (Radford et al., 2021): the symmetric InfoNCE of the paper's Figure 3 over the in-batch pairs of
 * two towers.
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||              rows L2-normalised
 *   S = exp(t) * u v^T                          t = logit_scale = log(1 / temperature)
 *   loss = (CE(S, diag) + CE(S^T, diag)) / 2    row i of each tower is the other's positive
 * </pre>
 *
 * <p>The paper optimises the temperature "directly [...] during training as a log-parameterized
 * multiplicative scalar" (Section 2.3), initialised to the equivalent of 0.07 and "clipped to prevent
 * scaling the logits by more than 100" (Section 2.5). With {@code learnable} the scale is the parameter
 * {@code logit_scale}; {@link #afterStep} clips it after each optimiser step, as the paper does, and
 * the forward pass clips it too so that a value set from outside (a checkpoint) cannot exceed the
 * cap. The host should not apply weight decay to it (OpenCLIP excludes it).
 *
 * <p>The cross-entropies are taken through log-softmax, which subtracts each row's maximum before
 * exponentiating, so logits in the thousands (temperature 0.001) stay finite.
 */
public final class ClipLoss implements Loss {

    /**
     * @param temperature the softmax temperature, or its initial value when learnable
     * @param learnable learn log(1 / temperature) with the towers
     * @param maxLogitScale the cap on exp(logit_scale), 1 / the smallest temperature
     */
    public record Params(
            @Doc("Softmax temperature: logits are cosine similarities divided by it; the initial value when learnable")
            @Default("0.07") double temperature,
            @Doc("Learn the temperature with the towers, as the parameter logit_scale = log(1 / temperature);"
                    + " false keeps it fixed")
            @Default("true") boolean learnable,
            @Doc("Cap on the logit scale 1 / temperature; the learned scale is clipped to it (the paper uses 100)")
            @Default("100") double maxLogitScale) {

        public Params {
            LogitScale.checkParams(temperature, maxLogitScale, "CLIP starts from 0.07", "the paper uses 100");
        }
    }

    /** The name of the learned parameter, as in CLIP's and OpenCLIP's checkpoints. */
    static final String LOGIT_SCALE = LogitScale.NAME;

    /** The floor of a norm that is divided by, as PyTorch's F.normalize and {@link Scalars#normalise}. */
    private static final double NORM_EPSILON = 1e-12;

    private final String firstTower;
    private final String secondTower;
    /** The temperature: fixed, or the learned, capped logit_scale. */
    private final LogitScale logitScale;

    public ClipLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "clip reads exactly two towers, found " + towers
                    + "; name the two towers whose pairs it contrasts, e.g. [image, text]");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "clip contrasts two different towers, found " + towers
                    + "; a tower against itself makes every row its own positive");
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
        // F.normalize in one engine call: x / max(||x||, 1e-12), as Scalars.normalise, without four JNI round trips.
        NDArray a = batch.tower(firstTower).embedding().normalize(2, 1, NORM_EPSILON);
        NDArray b = batch.tower(secondTower).embedding().normalize(2, 1, NORM_EPSILON);
        int batchSize = Math.toIntExact(a.getShape().get(0));
        DataType dataType = a.getDataType();

        NDArray clippedLogitScale = logitScale.clipped(manager, dataType);
        // Figure 3: logits = np.dot(I_e, T_e.T) * np.exp(t)
        NDArray logits = a.matMul(b.transpose()).mul(clippedLogitScale.exp());

        // Figure 3: loss_i = cross_entropy(logits, labels, axis=0), loss_t = ... axis=1, with labels the
        // diagonal. Each cross-entropy is minus the mean of its log-softmax's diagonal, so their average is
        // -(1 / 2B) * trace(log_softmax(S, 1) + log_softmax(S, 0)): the two log-softmaxes of the same logits are
        // added and the diagonal of the sum is read once, as a view (torch.diagonal) rather than by multiplying by
        // an identity matrix. Five kernels fewer, forward and backward, than a mean per direction.
        NDArray bothDirections = logits.logSoftmax(1).add(logits.logSoftmax(0));
        NDArray loss = Scalars.mul(bothDirections.diagonal().sum(), -0.5 / batchSize);

        if (!context.metricsLogged()) {
            return new LossOutput(loss); // the accuracy's eleven kernels are a tenth of the loss's at batch 32
        }
        NDArray temperature = clippedLogitScale.stopGradient().neg().exp();
        return new LossOutput(loss, Map.of("temperature", temperature, "accuracy", accuracy(logits, manager)));
    }

    /** Clips the learned log-scale to log(max_logit_scale) after the optimiser moved it (Section 2.5). */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        logitScale.capAfterStep();
    }


    /**
     * In-batch top-1 matching: row i's best match is column i and column i's is row i, averaged. The hits of
     * both directions are counted as integers and divided once, without a float copy of each comparison.
     */
    private static NDArray accuracy(NDArray logits, NDManager manager) {
        NDArray detached = logits.stopGradient();
        long batchSize = detached.getShape().get(0);
        NDArray expected = manager.arange(0f, batchSize, 1f, DataType.INT64);
        NDArray hits = detached.argMax(1).eq(expected).countNonzero()
                .add(detached.argMax(0).eq(expected).countNonzero());
        return Scalars.div(hits.toType(DataType.FLOAT32, false), 2.0 * batchSize);
    }
}
