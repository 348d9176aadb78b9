package dev.modalign.plugins.encoders;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.modalign.api.Scalars;

/** The mean of token vectors over the real tokens of each sequence, padding excluded. */
public final class MaskedMeanPooling {

    private MaskedMeanPooling() {}

    /**
     * @param tokens [B, T, D]
     * @param mask [B, T], 1 for real tokens and 0 for padding
     * @return [B, D]; a sequence with no real token pools to zeros rather than NaN
     */
    public static NDArray pool(NDArray tokens, NDArray mask) {
        NDArray weights = mask.toType(DataType.FLOAT32, false).expandDims(2); // [B, T, 1]
        NDArray sum = tokens.mul(weights).sum(new int[] {1}); // [B, D]
        NDArray count = Scalars.maximum(weights.sum(new int[] {1}), 1); // [B, 1]
        return sum.div(count);
    }
}
