package dev.modalign.plugins.aggretriever;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.util.PairList;
import dev.modalign.api.Scalars;
import dev.modalign.plugins.encoders.TokenTransformer;
import dev.modalign.plugins.encoders.TransformerEncoder;

/**
 * Aggretriever's representation (Lin et al., TACL 2023, Section 3) on a {@link TokenTransformer}:
 * NDList(ids int [B, T], mask [B, T]) to NDList(embedding [B, E]).
 *
 * <pre>
 *   h_0 .. h_{T-1}        token features of the transformer (h_0 the first token, CLS)
 *   p_i = softmax(h_i E^T + c)                 [V]  the token's distribution over the vocabulary, E the
 *                                                    transformer's token table (tied, as BERT's MLM head), c a bias
 *   w_i = u . h_i + b                                the token's learned weight
 *   v   = max over real tokens i >= 1 of w_i p_i  [V]  the lexical representation (Section 3.1)
 *   s   = max over the V / 2d slices of v         [2d] (v zero-padded to a multiple of 2d; Section 3.2)
 *   agg*_k = s_2k if s_2k &gt; s_2k+1 else -s_2k+1 [d]  each pair of slice maxima signed into one value
 *   embedding = [agg*, W_cls h_0 + b_cls]         [d + (E - d)]
 * </pre>
 *
 * <p>As the authors' code (castorini/dhr, the aggregate() of the Aggretriever model, "full"
 * aggregation), the term weight has no activation, the first token takes no part in agg*, and the
 * two halves of each slice pair carry the positive and the negative part of the folded vector. One
 * difference: their code multiplies w_i p_i by the attention mask before the max, so a padded
 * position contributes 0, which beats a negative weight and makes a text's agg* depend on how much
 * padding its batch has; here a padded position is lowered by {@link #PADDING_PENALTY} and never
 * wins the max, so padding changes nothing. A text with no token after the first gets agg* = 0. The
 * vocabulary is zero-padded at its end to a multiple of 2d, where their code drops its first ids
 * (BERT's unused tokens; here every id is a hashed word or a special).
 */
final class AggretrieverBlock extends AbstractBlock {

    private static final byte VERSION = 1;

    /** Lowers padded positions below any real w_i p_i (|w_i p_i| &lt;= |w_i|) before the max over tokens. */
    static final double PADDING_PENALTY = 1e9;

    private final int width;
    private final int aggDim;
    private final int embedDim;
    private final TokenTransformer transformer;
    private final Linear termWeight;
    private final Linear firstTokenProjection;
    private final Parameter vocabularyBias;

    AggretrieverBlock(int vocabularySize, int maxLength, TransformerEncoder.Params transformerParams, int aggDim,
            int embedDim) {
        super(VERSION);
        this.width = transformerParams.width();
        this.aggDim = aggDim;
        this.embedDim = embedDim;
        this.transformer = addChildBlock("transformer",
                new TokenTransformer(vocabularySize, maxLength, transformerParams));
        this.termWeight = addChildBlock("term_weight", Linear.builder().setUnits(1).build());
        this.firstTokenProjection = embedDim > aggDim
                ? addChildBlock("first_token_projection", Linear.builder().setUnits(embedDim - aggDim).build())
                : null;
        this.vocabularyBias = addParameter(Parameter.builder().setName("vocabulary_bias").setType(Parameter.Type.BIAS)
                .optShape(new Shape(vocabularySize)).optInitializer(new ConstantInitializer(0)).build());
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList encoded = transformer.forward(parameterStore, inputs, training);
        NDArray tokens = encoded.get(1); // [B, T, W]
        NDArray mask = encoded.get(2).toType(tokens.getDataType(), false); // [B, T]
        long length = tokens.getShape().get(1);
        NDArray first = tokens.get(new NDIndex(":, 0, :")); // [B, W]

        NDArray agg;
        if (length > 1) {
            NDArray words = tokens.get(new NDIndex(":, 1:, :")); // [B, T-1, W]
            NDArray wordMask = mask.get(new NDIndex(":, 1:")); // [B, T-1]
            NDArray table = parameterStore.getValue(transformer.tokenTable(), tokens.getDevice(), training); // [V, W]
            NDArray bias = parameterStore.getValue(vocabularyBias, tokens.getDevice(), training);
            NDArray distributions = words.matMul(table.transpose()).add(bias).softmax(-1); // [B, T-1, V]
            NDArray weights = termWeight.forward(parameterStore, new NDList(words), training).get(0); // [B, T-1, 1]
            agg = aggregate(lexical(distributions.mul(weights), wordMask), aggDim);
        } else {
            agg = tokens.getManager().zeros(new Shape(tokens.getShape().get(0), aggDim), tokens.getDataType(),
                    tokens.getDevice());
        }
        if (firstTokenProjection == null) {
            return new NDList(agg);
        }
        NDArray dense = firstTokenProjection.forward(parameterStore, new NDList(first), training).get(0);
        return new NDList(agg.concat(dense, 1));
    }

    /**
     * v = max over real tokens of the weighted distributions [B, T, V] (mask [B, T]): [B, V]; a text
     * without a real token gets zeros.
     */
    static NDArray lexical(NDArray weightedDistributions, NDArray mask) {
        NDArray lowered = Scalars.mul(mask.sub(Scalars.of(mask, 1)), PADDING_PENALTY).expandDims(2); // 0 or -penalty
        NDArray maxima = weightedDistributions.add(lowered).max(new int[] {1}); // [B, V]
        NDArray anyReal = mask.sum(new int[] {1}).gt(Scalars.of(mask, 0)).toType(maxima.getDataType(), false);
        return maxima.mul(anyReal.expandDims(1));
    }

    /**
     * The paper's aggregation of v [B, V] into d values: zero-padded to a multiple of 2d, cut into V' /
     * 2d slices of 2d, the element-wise max over the slices, and each pair (2k, 2k+1) of that folded into
     * one signed value: the first if it is larger, else minus the second.
     */
    static NDArray aggregate(NDArray lexical, int aggDim) {
        long batch = lexical.getShape().get(0);
        long size = lexical.getShape().get(1);
        long slice = 2L * aggDim;
        long padded = (size + slice - 1) / slice * slice;
        NDArray values = lexical;
        if (padded > size) {
            values = values.concat(lexical.getManager().zeros(new Shape(batch, padded - size), lexical.getDataType(),
                    lexical.getDevice()), 1);
        }
        NDArray folded = values.reshape(batch, padded / slice, slice).max(new int[] {1}) // [B, 2d]
                .reshape(batch, aggDim, 2);
        NDArray positive = folded.get(new NDIndex(":, :, 0"));
        NDArray negative = folded.get(new NDIndex(":, :, 1"));
        NDArray positiveWins = positive.gt(negative).toType(positive.getDataType(), false).stopGradient();
        return positive.mul(positiveWins).sub(negative.mul(Scalars.of(positiveWins, 1).sub(positiveWins)));
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        transformer.initialize(manager, dataType, inputShapes);
        Shape ids = inputShapes[0];
        termWeight.initialize(manager, dataType, ids.add(width));
        if (firstTokenProjection != null) {
            firstTokenProjection.initialize(manager, dataType, new Shape(ids.get(0), width));
        }
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), embedDim)};
    }
}
