package dev.modalign.plugins.threetowers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Three Towers objective of "Three Towers: Flexible Contrastive Learning with Pretrained Image
 * Models" (Kossen et al., NeurIPS 2023), Section 3: the main towers f and g are trained from scratch
 * with the usual contrastive loss, and each also learns to match a frozen pretrained third tower h,
 * which is seen through a learned linear head; the main towers reach the third tower's space through
 * heads of their own, so the main embedding space stays free.
 *
 * <pre>
 *   L = L_c(f, g) + (L_c(W_f f, W_h h) + L_c(W_g g, W_h h)) / 2
 *   L_c(x, y) = (CE(s x^ y^T, diag) + CE(s y^ x^T, diag)) / 2     x^, y^ rows L2-normalised
 * </pre>
 *
 * Each of the three terms has its own learned logit scale s = exp(t), initialised to
 * 1 / temperature and capped at max_logit_scale as in CLIP. towers: [f, g, h]; h should be frozen
 * (its gradient is not used: the term treats it as a fixed target).
 */
public final class ThreeTowersLoss implements Loss {

    /**
     * @param temperature the initial temperature of every term
     * @param headDim the width of the third tower's space (0: the first tower's embedding size)
     * @param maxLogitScale the cap on each learned scale
     */
    public record Params(
            @Doc("Initial softmax temperature of each of the three contrastive terms (each learned)") @Default("0.07")
                    double temperature,
            @Doc("Width of the heads into the third tower's space (0: the first tower's embedding size)") @Default("0")
                    int headDim,
            @Doc("Cap on each learned logit scale 1 / temperature (CLIP's 100)") @Default("100") double maxLogitScale) {

        public Params {
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be > 0, found " + temperature);
            }
            if (headDim < 0) {
                throw new InvalidParamException("head_dim", "must be 0 (the first tower's size) or more, found " + headDim);
            }
            if (!(maxLogitScale >= 1 / temperature)) {
                throw new InvalidParamException("max_logit_scale", "must be at least 1 / temperature = " + (1 / temperature)
                        + ", found " + maxLogitScale);
            }
        }
    }

    /** The names of the learned parameters. */
    static final List<String> NAMES = List.of("head_f", "head_g", "head_h", "logit_scale_fg", "logit_scale_fh",
            "logit_scale_gh");

    private final String f;
    private final String g;
    private final String h;
    private final float cap;
    private final List<Parameter> parameters = new ArrayList<>();

    public ThreeTowersLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 3 || towers.stream().distinct().count() != 3) {
            throw new InvalidParamException("towers", "three-towers reads three different towers [f, g, h], the last the "
                    + "frozen pretrained one, found " + towers + "; e.g. [image, text, pretrained]");
        }
        f = towers.get(0);
        g = towers.get(1);
        h = towers.get(2);
        int width = params.headDim() > 0 ? params.headDim() : context.embedDim(f);
        parameters.add(head("head_f", context.embedDim(f), width, context.seed()));
        parameters.add(head("head_g", context.embedDim(g), width, context.seed()));
        parameters.add(head("head_h", context.embedDim(h), width, context.seed()));
        float initial = (float) Math.log(1 / params.temperature());
        for (String name : NAMES.subList(3, 6)) {
            parameters.add(Parameter.builder().setName(name).setType(Parameter.Type.OTHER).optShape(new Shape())
                    .optInitializer(new ConstantInitializer(initial)).build());
        }
        cap = (float) Math.log(params.maxLogitScale());
    }

    /**
     * A linear map [in, out] with Gaussian entries of variance 1 / in, so it roughly keeps norms; drawn
     * from the run's seed and the head's name, so the same run starts from the same heads.
     */
    private static Parameter head(String name, int in, int out, long seed) {
        Initializer seeded = (manager, shape, dataType) -> {
            java.util.Random random = new java.util.Random(seed * 31 + name.hashCode());
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (random.nextGaussian() / Math.sqrt(in));
            }
            return manager.create(values, shape).toType(dataType, false);
        };
        return Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).optShape(new Shape(in, out))
                .optInitializer(seeded).build();
    }

    @Override
    public List<Parameter> parameters() {
        return parameters;
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray x = batch.tower(f).embedding();
        NDArray y = batch.tower(g).embedding();
        NDArray z = batch.tower(h).embedding().stopGradient();
        NDArray main = contrastive(x, y, scale(3, manager), manager);
        NDArray thirdF = contrastive(x.matMul(weight(0, manager)), z.matMul(weight(2, manager)), scale(4, manager), manager);
        NDArray thirdG = contrastive(y.matMul(weight(1, manager)), z.matMul(weight(2, manager)), scale(5, manager), manager);
        NDArray loss = main.add(Scalars.div(thirdF.add(thirdG), 2));
        Map<String, NDArray> metrics = new LinkedHashMap<>();
        metrics.put("main", main.stopGradient());
        metrics.put("third_f", thirdF.stopGradient());
        metrics.put("third_g", thirdG.stopGradient());
        return new LossOutput(loss, metrics);
    }

    /** Caps each learned scale after the optimiser moved it, as CLIP does (Radford et al., Section 2.5). */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        for (Parameter scale : parameters.subList(3, 6)) {
            if (scale.getArray().getFloat() > cap) {
                scale.getArray().set(new float[] {cap});
            }
        }
    }

    private NDArray weight(int index, NDManager manager) {
        NDArray copy = parameters.get(index).getArray().toType(ai.djl.ndarray.types.DataType.FLOAT32, true);
        copy.attach(manager);
        return copy;
    }

    private NDArray scale(int index, NDManager manager) {
        return weight(index, manager).clip(Float.NEGATIVE_INFINITY, cap).exp();
    }

    /** The symmetric InfoNCE of CLIP between paired rows of x and y with logit scale s. */
    static NDArray contrastive(NDArray x, NDArray y, NDArray scale, NDManager manager) {
        NDArray u = Scalars.normalise(x);
        NDArray v = Scalars.normalise(y);
        long rows = u.getShape().get(0);
        NDArray logits = u.matMul(v.transpose()).mul(scale);
        NDArray diagonal = manager.eye((int) rows, (int) rows, 0, logits.getDataType());
        NDArray forward = logits.logSoftmax(1).mul(diagonal).sum();
        NDArray backward = logits.logSoftmax(0).mul(diagonal).sum();
        return Scalars.div(forward.add(backward), -2.0 * rows);
    }
}
