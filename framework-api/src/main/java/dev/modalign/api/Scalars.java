package dev.modalign.api;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Arithmetic with a constant that is safe under autograd. Use these instead of {@code
 * x.mul(0.5)}, {@code x.div(t)}, {@code x.pow(2)}, {@code x.maximum(eps)} or {@code
 * x.minimum(c)} on any array that gradients flow through.
 *
 * <p>Why: on CPU, DJL's PyTorch engine turns such a number into a tensor that borrows the memory of
 * a Java direct buffer, runs the operation, and closes the tensor at once. PyTorch's autograd keeps
 * that tensor for the backward pass (the gradient of {@code x / t} needs {@code t}), but nothing on
 * the Java side keeps the buffer: a garbage collection between forward and backward frees it, and
 * the backward pass reads freed memory. The symptom is gradients that are sometimes wrong or NaN,
 * with a finite loss, and runs with the same seed that differ. The constants made here are
 * allocated by the engine itself and belong to the operand's manager, so they live as long as the
 * step does. The test kit's contract tests check every loss and encoder for this.
 */
public final class Scalars {

    /** The floor of a norm that is divided by, as PyTorch's F.normalize. */
    private static final double NORM_EPSILON = 1e-12;

    private Scalars() {}

    /** A 0-d array holding {@code value}, of {@code like}'s data type and device, in its manager. */
    public static NDArray of(NDArray like, double value) {
        return like.getManager().full(new Shape(), (float) value, like.getDataType(), like.getDevice());
    }

    /** {@code x * value}. */
    public static NDArray mul(NDArray x, double value) {
        return x.mul(of(x, value));
    }

    /** {@code x / value}. */
    public static NDArray div(NDArray x, double value) {
        return x.div(of(x, value));
    }

    /** {@code x ^ value}, element-wise. */
    public static NDArray pow(NDArray x, double value) {
        return x.pow(of(x, value));
    }

    /** The element-wise larger of {@code x} and {@code value}. */
    public static NDArray maximum(NDArray x, double value) {
        return x.maximum(of(x, value));
    }

    /**
     * {@code x} scaled to unit L2 norm along {@code axis}, as torch.nn.functional.normalize: {@code x /
     * max(||x||, 1e-12)}, so a zero vector stays zero; differentiable.
     */
    public static NDArray normalise(NDArray x, int axis) {
        return x.div(maximum(x.norm(new int[] {axis}, true), NORM_EPSILON));
    }

    /** Each row of a [B, D] array scaled to unit L2 norm: {@code normalise(x, 1)}. */
    public static NDArray normalise(NDArray x) {
        return normalise(x, 1);
    }

    /** The element-wise smaller of {@code x} and {@code value}. */
    public static NDArray minimum(NDArray x, double value) {
        return x.minimum(of(x, value));
    }
}
