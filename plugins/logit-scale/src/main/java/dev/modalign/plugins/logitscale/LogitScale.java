package dev.modalign.plugins.logitscale;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.ConstantInitializer;
import dev.modalign.api.InvalidParamException;
import java.util.List;

/**
 * The temperature of CLIP ("Learning Transferable Visual Models From Natural Language Supervision",
 * Radford et al., 2021) as contrastive losses share it: logits are multiplied by exp(t), with t =
 * log(1 / temperature) either fixed or "directly optimized during training as a log-parameterized
 * multiplicative scalar" (Section 2.3, the parameter {@code logit_scale}) and "clipped to prevent
 * scaling the logits by more than 100" (Section 2.5): after each optimiser step ({@link
 * #capAfterStep}) and in the forward pass ({@link #clipped}), so that a value set from outside (a
 * checkpoint) cannot exceed the cap either.
 */
public final class LogitScale {

    /** The learned parameter's name, as in CLIP's and OpenCLIP's checkpoints. */
    public static final String NAME = "logit_scale";

    /** log(1 / temperature): the fixed scale, or the parameter's initial value. */
    private final float initial;
    /** log(max_logit_scale), one float32 value in the forward clip and in capAfterStep. */
    private final float cap;
    /** The learned log-scale, a float32 scalar; null when the temperature is fixed. */
    private final Parameter parameter;

    /**
     * Checks a loss's {@code temperature} and {@code max_logit_scale} parameters, as every loss that holds a
     * LogitScale takes them: both finite and positive, and a starting scale 1 / temperature within the cap (above
     * it, the scale would be clipped silently before the first step).
     *
     * @param temperatureHint what the method starts from, appended to a bad temperature's message; or null
     * @param capHint the cap the method uses, appended to a bad cap's message; or null
     * @throws InvalidParamException naming the key and what would fix it
     */
    public static void checkParams(double temperature, double maxLogitScale, String temperatureHint, String capHint) {
        String temperatureAdvice = temperatureHint == null ? "" : "; " + temperatureHint;
        if (!(temperature > 0) || !Double.isFinite(temperature)) {
            throw new InvalidParamException("temperature", "must be > 0, found " + temperature + temperatureAdvice);
        }
        if (!(maxLogitScale > 0) || !Double.isFinite(maxLogitScale)) {
            throw new InvalidParamException("max_logit_scale", "must be a finite number > 0, found " + maxLogitScale
                    + (capHint == null ? "" : "; " + capHint));
        }
        if (1 / temperature > maxLogitScale * (1 + 1e-9)) {
            throw new InvalidParamException("temperature", "gives a logit scale 1 / temperature = "
                    + (1 / temperature) + " above max_logit_scale " + maxLogitScale + ", found temperature "
                    + temperature + "; raise max_logit_scale to at least " + (1 / temperature)
                    + " or the temperature to at least " + (1 / maxLogitScale));
        }
    }

    public LogitScale(double temperature, boolean learnable, double maxLogitScale) {
        this.initial = (float) Math.log(1 / temperature);
        this.cap = (float) Math.log(maxLogitScale);
        this.parameter = learnable
                ? Parameter.builder()
                        .setName(NAME)
                        .setType(Parameter.Type.OTHER)
                        .optShape(new Shape())
                        .optInitializer(new ConstantInitializer(initial))
                        .build()
                : null;
    }

    /** The learned parameter, or nothing when the temperature is fixed. */
    public List<Parameter> parameters() {
        return parameter == null ? List.of() : List.of(parameter);
    }

    /**
     * The log-scale for this step, clipped to log(max_logit_scale), in the step's manager. The clip is
     * inclusive: at exactly the cap the gradient still passes, so the scale can learn its way down.
     */
    public NDArray clipped(NDManager manager, DataType dataType) {
        NDArray raw;
        if (parameter == null) {
            raw = manager.create(initial).toType(dataType, false);
        } else {
            // A copying toType is differentiable (duplicate() is not: it detaches). Moving the copy to the
            // step's manager keeps the arrays of the ops below out of the parameter's manager, which lives as
            // long as the run.
            raw = parameter.getArray().toType(dataType, true);
            raw.attach(manager);
        }
        return raw.clip(Float.NEGATIVE_INFINITY, cap);
    }

    /** Clips the learned log-scale to log(max_logit_scale) after the optimiser moved it (Section 2.5). */
    public void capAfterStep() {
        if (parameter == null) {
            return;
        }
        NDArray array = parameter.getArray();
        if (array.getFloat() > cap) {
            array.set(new float[] {cap});
        }
    }
}
