package dev.modalign.plugins.encoders;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.modalign.api.Scalars;

/**
 * Multi-head self-attention, "Attention Is All You Need" (Vaswani et al., 2017), section 3.2:
 * NDList(x [B, T, W], mask [B, T]) to NDList(y [B, T, W]). Padding positions are masked out as keys,
 * so no real token attends to padding and appending padding leaves real tokens' outputs unchanged.
 *
 * <p>Queries, keys and values come from one fused [W, 3W] projection, and every head is computed
 * by the same batched matrix products, so the cost is a handful of large engine calls per layer.
 */
final class MultiHeadSelfAttention extends AbstractBlock {

    private static final byte VERSION = 1;

    /**
     * Added to the logits of padding keys. Large enough that exp() of it is exactly 0 in float32,
     * finite so that a sequence with no real token still gets a (uniform) finite softmax.
     */
    private static final float PADDING_LOGIT = -1e9f;

    private final int width;
    private final int heads;
    private final Linear queryKeyValue;
    private final Linear output;

    MultiHeadSelfAttention(int width, int heads) {
        super(VERSION);
        this.width = width;
        this.heads = heads;
        this.queryKeyValue = addChildBlock("query_key_value", Linear.builder().setUnits(3L * width).build());
        this.output = addChildBlock("output", Linear.builder().setUnits(width).build());
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDArray mask = inputs.get(1);
        long batch = x.getShape().get(0);
        long length = x.getShape().get(1);
        long headSize = width / heads;

        NDArray qkv = queryKeyValue.forward(parameterStore, new NDList(x), training).get(0); // [B, T, 3W]
        // [B, T, 3, H, Dh] -> [3, B, H, T, Dh]
        qkv = qkv.reshape(batch, length, 3, heads, headSize).transpose(2, 0, 3, 1, 4);
        NDArray query = qkv.get(0);
        NDArray key = qkv.get(1);
        NDArray value = qkv.get(2);

        // Equation (1): softmax(Q K^T / sqrt(d_k)) V, with padding keys pushed to -1e9 before the softmax.
        NDArray logits = Scalars.div(query.matMul(key.transpose(0, 1, 3, 2)), Math.sqrt(headSize)); // [B, H, T, T]
        NDArray isPadding = mask.toType(DataType.FLOAT32, false).neg().add(1f); // 1 - mask
        NDArray keyBias = Scalars.mul(isPadding, PADDING_LOGIT).reshape(batch, 1, 1, length); // 0 or -1e9, per key
        NDArray attention = logits.add(keyBias).softmax(-1);
        NDArray mixed = attention.matMul(value) // [B, H, T, Dh]
                .transpose(0, 2, 1, 3)
                .reshape(batch, length, width);
        return output.forward(parameterStore, new NDList(mixed), training);
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        queryKeyValue.initialize(manager, dataType, inputShapes[0]);
        output.initialize(manager, dataType, inputShapes[0]);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
