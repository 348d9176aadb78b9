package dev.modalign.plugins.encoders;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * One Transformer encoder layer with layer normalisation before each sub-layer, as in "On Layer
 * Normalization in the Transformer Architecture" (Xiong et al., 2020), figure 1(b):
 *
 * <pre>
 *   x = x + Dropout(MultiHeadSelfAttention(LayerNorm(x), mask))
 *   x = x + Dropout(W2 GELU(W1 LayerNorm(x)))
 * </pre>
 *
 * NDList(x [B, T, W], mask [B, T]) to NDList(x [B, T, W]). Pre-LN keeps the residual path an
 * identity, which trains stably without a learning-rate warm-up tuned to the depth.
 */
final class PreNormEncoderLayer extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int mlpHidden;
    private final float dropout;
    private final LayerNorm attentionNorm;
    private final MultiHeadSelfAttention attention;
    private final LayerNorm mlpNorm;
    private final Linear mlpIn;
    private final Linear mlpOut;

    PreNormEncoderLayer(int width, int heads, int mlpHidden, float dropout) {
        super(VERSION);
        this.mlpHidden = mlpHidden;
        this.dropout = dropout;
        this.attentionNorm = addChildBlock("attention_norm", LayerNorm.builder().axis(2).build());
        this.attention = addChildBlock("attention", new MultiHeadSelfAttention(width, heads));
        this.mlpNorm = addChildBlock("mlp_norm", LayerNorm.builder().axis(2).build());
        this.mlpIn = addChildBlock("mlp_in", Linear.builder().setUnits(mlpHidden).build());
        this.mlpOut = addChildBlock("mlp_out", Linear.builder().setUnits(width).build());
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDArray mask = inputs.get(1);
        NDArray normed = attentionNorm.forward(parameterStore, new NDList(x), training).get(0);
        NDArray attended = attention.forward(parameterStore, new NDList(normed, mask), training).get(0);
        x = x.add(drop(attended, training));
        normed = mlpNorm.forward(parameterStore, new NDList(x), training).get(0);
        NDArray hidden = Activation.gelu(mlpIn.forward(parameterStore, new NDList(normed), training).get(0));
        NDArray mlp = mlpOut.forward(parameterStore, new NDList(hidden), training).get(0);
        return new NDList(x.add(drop(mlp, training)));
    }

    private NDArray drop(NDArray x, boolean training) {
        return training && dropout > 0 ? Dropout.dropout(x, dropout, true).get(0) : x;
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape tokens = inputShapes[0];
        attentionNorm.initialize(manager, dataType, tokens);
        attention.initialize(manager, dataType, tokens, inputShapes[1]);
        mlpNorm.initialize(manager, dataType, tokens);
        mlpIn.initialize(manager, dataType, tokens);
        mlpOut.initialize(manager, dataType, new Shape(tokens.get(0), tokens.get(1), mlpHidden));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
