package dev.modalign.plugins.modalitystructure;

import ai.djl.ndarray.NDArray;
import dev.modalign.api.Scalars;

/** Rows scaled to unit L2 norm, as torch.nn.functional.normalize does: a zero row stays zero. */
final class UnitRows {

    private static final float NORM_EPSILON = 1e-12f;

    private UnitRows() {}

    /** {@code x / max(||x||, 1e-12)} row by row, differentiable; [B, D] to [B, D]. */
    static NDArray of(NDArray x) {
        return x.div(Scalars.maximum(x.norm(new int[] {1}, true), NORM_EPSILON));
    }
}
