package dev.modalign.plugins.siglip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
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
import java.util.List;
import java.util.Map;

/**
 * The pairwise sigmoid loss of "Sigmoid Loss for Language Image Pre-Training" (Zhai et al., ICCV
 * 2023), Section 3.2 and Algorithm 1: every pair of the batch is an independent binary
 * classification, positive on the diagonal and negative elsewhere, so no softmax normalises over
 * the batch.
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||                    rows L2-normalised
 *   logits = exp(t') * u v^T + b_bias                 t' = logit_scale, b_bias = logit_bias
 *   z_ij = +1 if i == j else -1
 *   loss = -(1/B) * sum_ij log sigmoid(z_ij * logits_ij)
 * </pre>
 *
 * <p>Naming: the paper calls t = exp(t') the temperature and multiplies by it; this plugin keeps the
 * CLIP plugin's convention, where the temperature divides the cosine similarities, so that
 * {@code temperature} means the same in both and a sweep can swap {@code type: clip} for
 * {@code type: siglip}. The paper's initialisation t' = log 10 is therefore {@code temperature: 0.1},
 * and the learned parameter {@code logit_scale} holds t' = log(1 / temperature) (OpenCLIP's name);
 * {@code bias} (the paper's b, initialised to -10) is learned as {@code logit_bias}. The paper does
 * not clip the scale, and neither does this loss.
 *
 * <p>-log sigmoid(x) is taken as softplus(-x), which PyTorch computes without overflow (linearly
 * above a threshold), so logits in the thousands stay finite.
 */
public final class SigLipLoss implements Loss {

    /**
     * @param temperature 1 / exp(t'): the initial value when learnable
     * @param bias the logit bias b: the initial value when learnable
     * @param learnable learn t' and b with the towers
     */
    public record Params(
            @Doc("Temperature dividing the cosine similarities, as in the clip loss: the paper's t = exp(t')"
                    + " is 1 / temperature, so its initialisation t' = log 10 is 0.1; the initial value when"
                    + " learnable")
            @Default("0.1") double temperature,
            @Doc("Bias b added to every logit; the paper starts from -10 so that the many negatives of a"
                    + " batch do not dominate the first steps; the initial value when learnable")
            @Default("-10") double bias,
            @Doc("Learn the scale (as logit_scale = log(1 / temperature)) and the bias (as logit_bias) with"
                    + " the towers, as the paper does; false keeps both fixed")
            @Default("true") boolean learnable) {

        public Params {
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be a finite number > 0, found " + temperature
                        + "; the paper's initialisation t' = log 10 is temperature 0.1");
            }
            if (!Double.isFinite(bias)) {
                throw new InvalidParamException("bias", "must be a finite number, found " + bias
                        + "; the paper starts from -10");
            }
        }
    }

    /** The learned log-scale t', OpenCLIP's name for it. */
    static final String LOGIT_SCALE = "logit_scale";
    /** The learned bias b, OpenCLIP's name for it. */
    static final String LOGIT_BIAS = "logit_bias";

    private final String firstTower;
    private final String secondTower;
    /** t' = log(1 / temperature): the fixed log-scale, or the parameter's initial value. */
    private final float initialLogitScale;
    /** b: the fixed bias, or the parameter's initial value. */
    private final float initialBias;
    /** The learned t' and b, float32 scalars; null when fixed. */
    private final Parameter logitScale;
    private final Parameter logitBias;

    public SigLipLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "siglip reads exactly two towers, found " + towers
                    + "; name the two towers whose pairs it classifies, e.g. [image, text]");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "siglip contrasts two different towers, found " + towers
                    + "; a tower against itself makes every row its own positive");
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.initialLogitScale = (float) Math.log(1 / params.temperature());
        this.initialBias = (float) params.bias();
        this.logitScale = params.learnable() ? scalarParameter(LOGIT_SCALE, initialLogitScale) : null;
        this.logitBias = params.learnable() ? scalarParameter(LOGIT_BIAS, initialBias) : null;
    }

    @Override
    public List<Parameter> parameters() {
        return logitScale == null ? List.of() : List.of(logitScale, logitBias);
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray a = Scalars.normalise(batch.tower(firstTower).embedding());
        NDArray b = Scalars.normalise(batch.tower(secondTower).embedding());
        int batchSize = Math.toIntExact(a.getShape().get(0));
        DataType dataType = a.getDataType();

        NDArray scale = stepValue(logitScale, initialLogitScale, manager, dataType);
        NDArray bias = stepValue(logitBias, initialBias, manager, dataType);
        // Algorithm 1: logits = dot(zimg, ztxt.T) * t + b
        NDArray logits = a.matMul(b.transpose()).mul(scale.exp()).add(bias);
        // Algorithm 1: labels = 2 * eye(n) - ones(n), built without a number operand.
        NDArray identity = manager.eye(batchSize, batchSize, 0, dataType);
        NDArray signs = identity.add(identity).sub(manager.ones(new Shape(batchSize, batchSize), dataType));
        // Algorithm 1: l = -sum(log_sigmoid(labels * logits)) / n, with -log sigmoid(x) = softplus(-x).
        NDArray loss = Scalars.div(Activation.softPlus(logits.mul(signs).neg()).sum(), batchSize);

        if (!context.metricsLogged()) {
            return new LossOutput(loss);
        }
        NDArray temperature = scale.stopGradient().neg().exp();
        return new LossOutput(loss, Map.of("temperature", temperature, "bias", bias.stopGradient()));
    }

    private static Parameter scalarParameter(String name, float initialValue) {
        return Parameter.builder()
                .setName(name)
                .setType(Parameter.Type.OTHER)
                .optShape(new Shape())
                .optInitializer(new ConstantInitializer(initialValue))
                .build();
    }

    /** A parameter's value for this step in the step's manager, or the fixed value where there is none. */
    private static NDArray stepValue(Parameter parameter, float fixed, NDManager manager, DataType dataType) {
        if (parameter == null) {
            return manager.create(fixed).toType(dataType, false);
        }
        // A copying toType is differentiable (duplicate() is not: it detaches). Moving the copy to the
        // step's manager keeps the arrays of the ops below out of the parameter's manager, which lives
        // as long as the run.
        NDArray value = parameter.getArray().toType(dataType, true);
        value.attach(manager);
        return value;
    }

}
