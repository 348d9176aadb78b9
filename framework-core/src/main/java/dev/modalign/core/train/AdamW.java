package dev.modalign.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Parameter;
import dev.modalign.core.config.ExperimentSpec.OptimizerSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW, from "Decoupled Weight Decay Regularization" (Loshchilov and Hutter, ICLR 2019),
 * Algorithm 2: Adam's moment estimates with bias correction, and weight decay applied to the weights
 * directly rather than through the gradient. Decay applies to weight matrices and kernels (two or
 * more dimensions) only, not to biases, norms' gains or scalars such as a learnable temperature,
 * as CLIP's training does.
 *
 * <p>The optimiser keeps one handle to each parameter's gradient and zeroes it in place after the
 * update, so no gradient array is re-created per step. PyTorch creates a parameter's gradient at
 * its first backward pass, so the handles are taken then, not at construction.
 */
final class AdamW {

    private final OptimizerSpec spec;
    private final NDManager stateManager;
    private final List<Slot> slots = new ArrayList<>();
    private boolean gradientsBound;
    private long steps;

    private static final class Slot {
        final Parameter parameter;
        final NDArray weight;
        final NDArray m;
        final NDArray v;
        final boolean decay;
        NDArray gradient;

        Slot(Parameter parameter, NDArray m, NDArray v) {
            this.parameter = parameter;
            this.weight = parameter.getArray();
            this.m = m;
            this.v = v;
            this.decay = weight.getShape().dimension() >= 2;
        }
    }

    AdamW(List<Parameter> parameters, OptimizerSpec spec, NDManager stateManager) {
        this.spec = spec;
        this.stateManager = stateManager;
        for (Parameter parameter : parameters) {
            NDArray weight = parameter.getArray();
            slots.add(new Slot(parameter, stateManager.zeros(weight.getShape(), weight.getDataType()),
                    stateManager.zeros(weight.getShape(), weight.getDataType())));
        }
    }

    /** Every array the optimiser touches in a step, to lend to the step's manager. */
    List<NDArray> arrays() {
        List<NDArray> arrays = new ArrayList<>();
        for (Slot slot : slots) {
            arrays.add(slot.weight);
            if (slot.gradient != null) {
                arrays.add(slot.gradient);
            }
            arrays.add(slot.m);
            arrays.add(slot.v);
        }
        return arrays;
    }

    /** The gradients, in parameter order; call after a backward pass. */
    List<NDArray> gradients() {
        if (!gradientsBound) {
            for (Slot slot : slots) {
                slot.gradient = slot.weight.getGradient();
                slot.gradient.attach(stateManager);
            }
            gradientsBound = true;
        }
        return slots.stream().map(slot -> slot.gradient).toList();
    }

    List<Parameter> parameters() {
        return slots.stream().map(slot -> slot.parameter).toList();
    }

    /** One update at learning rate {@code lr}; temporaries belong to whatever manager the arrays are lent to. */
    void step(double lr) {
        steps++;
        float beta1 = (float) spec.beta1();
        float beta2 = (float) spec.beta2();
        double correction1 = 1 - Math.pow(beta1, steps);
        double correction2 = 1 - Math.pow(beta2, steps);
        // Step size with both bias corrections folded in (Kingma and Ba, 2015, end of section 2).
        float stepSize = (float) (lr * Math.sqrt(correction2) / correction1);
        float epsHat = (float) (spec.eps() * Math.sqrt(correction2));
        float decay = (float) (1 - lr * spec.weightDecay());
        gradients();
        for (Slot slot : slots) {
            slot.m.muli(beta1).addi(slot.gradient.mul(1 - beta1));
            slot.v.muli(beta2).addi(slot.gradient.square().muli(1 - beta2));
            if (slot.decay && spec.weightDecay() > 0) {
                slot.weight.muli(decay);
            }
            slot.weight.subi(slot.m.div(slot.v.sqrt().addi(epsHat)).muli(stepSize));
        }
    }

    /** Zeroes every gradient in place (safe for NaN and infinite values). */
    void zeroGradients() {
        for (Slot slot : gradientsBound ? slots : List.<Slot>of()) {
            slot.gradient.set(new NDIndex("..."), 0f);
        }
    }

    long steps() {
        return steps;
    }

    /** The first-moment estimates m, in parameter order: for checkpoints, which write and restore them in place. */
    List<NDArray> firstMoments() {
        return slots.stream().map(slot -> slot.m).toList();
    }

    /** The second-moment estimates v, in parameter order, as {@link #firstMoments()}. */
    List<NDArray> secondMoments() {
        return slots.stream().map(slot -> slot.v).toList();
    }

    /** Sets the number of updates made, for a run resumed from a checkpoint: the bias corrections depend on it. */
    void restoreSteps(long steps) {
        this.steps = steps;
    }
}
