package dev.modalign.plugins.encoders;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;

/**
 * The block of {@link TransformerEncoder}: NDList(ids int [B, T], mask [B, T]) to NDList(embedding
 * [B, E], tokens [B, T, E], mask [B, T]).
 *
 * <p>Token plus learned position embeddings, pre-LN encoder layers, a final LayerNorm, and a Linear
 * projection of every token to E. The embedding pools the projected tokens: their mean over real
 * tokens, or the first token. Because the projection is affine and the pooling weights sum to one,
 * pooling after the projection gives the same embedding as projecting the pooled state.
 *
 * <p>Public so that encoders of other plugins can put a pooling head of their own on its token
 * features (Aggretriever's agg*, NV-Embed's latent attention): they read tokens and mask from its
 * output and, for a head tied to the vocabulary, the token table ({@link #tokenTable()}).
 */
public final class TokenTransformer extends AbstractBlock {

    private static final byte VERSION = 1;

    /** The standard deviation of token and position embeddings at the start, as in BERT and GPT-2. */
    private static final float EMBEDDING_INIT_STD = 0.02f;

    private final int maxLength;
    private final int width;
    private final int mlpHidden;
    private final int embedDim;
    private final float dropout;
    private final boolean firstTokenPooling;
    private final TokenEmbedding tokenEmbedding;
    private final Parameter positions;
    private final List<PreNormEncoderLayer> layers = new ArrayList<>();
    private final LayerNorm finalNorm;
    private final Linear projection;

    /**
     * @param vocabularySize ids are in [0, vocabularySize)
     * @param maxLength the number of learned positions, the longest sequence it takes
     * @param params width, layers, heads, MLP ratio, dropout, pooling and the size E of the tokens
     */
    public TokenTransformer(int vocabularySize, int maxLength, TransformerEncoder.Params params) {
        super(VERSION);
        this.maxLength = maxLength;
        this.width = params.width();
        this.mlpHidden = params.mlpHidden();
        this.embedDim = params.embedDim();
        this.dropout = (float) params.dropout();
        this.firstTokenPooling = params.pooling().equals("first");
        this.tokenEmbedding = addChildBlock("token_embedding",
                new TokenEmbedding(vocabularySize, width, new NormalInitializer(EMBEDDING_INIT_STD)));
        this.positions = addParameter(Parameter.builder().setName("positions").setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(maxLength, width)).optInitializer(new NormalInitializer(EMBEDDING_INIT_STD))
                .build());
        for (int i = 0; i < params.layers(); i++) {
            layers.add(addChildBlock("layer_" + i,
                    new PreNormEncoderLayer(width, params.heads(), mlpHidden, dropout)));
        }
        this.finalNorm = addChildBlock("final_norm", LayerNorm.builder().axis(2).build());
        this.projection = addChildBlock("projection", Linear.builder().setUnits(embedDim).build());
    }

    /** The token embedding table [vocabularySize, width], for heads that score the vocabulary with it. */
    public Parameter tokenTable() {
        return tokenEmbedding.table();
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.get(0);
        NDArray mask = inputs.get(1).toType(DataType.FLOAT32, false);
        long length = ids.getShape().get(1);
        if (length > maxLength) {
            throw new IllegalArgumentException("a batch of " + length + " tokens per sequence is longer than the "
                    + "encoder's " + maxLength + " learned positions; the modality must cut sequences to max_length");
        }
        NDArray x = tokenEmbedding.forward(parameterStore, new NDList(ids), training).get(0); // [B, T, W]
        NDArray table = parameterStore.getValue(positions, ids.getDevice(), training);
        x = x.add(table.get(new NDIndex("0:{}", length))); // broadcast [T, W] over the batch
        if (training && dropout > 0) {
            x = Dropout.dropout(x, dropout, true).get(0);
        }
        for (PreNormEncoderLayer layer : layers) {
            x = layer.forward(parameterStore, new NDList(x, mask), training).get(0);
        }
        x = finalNorm.forward(parameterStore, new NDList(x), training).get(0);
        NDArray tokens = projection.forward(parameterStore, new NDList(x), training).get(0); // [B, T, E]
        NDArray embedding = firstTokenPooling
                ? tokens.get(new NDIndex(":, 0, :"))
                : MaskedMeanPooling.pool(tokens, mask);
        return new NDList(embedding, tokens, mask);
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape ids = inputShapes[0];
        Shape hidden = ids.add(width);
        tokenEmbedding.initialize(manager, dataType, ids);
        for (PreNormEncoderLayer layer : layers) {
            layer.initialize(manager, dataType, hidden, inputShapes[1]);
        }
        finalNorm.initialize(manager, dataType, hidden);
        projection.initialize(manager, dataType, hidden);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        return new Shape[] {new Shape(ids.get(0), embedDim), ids.add(embedDim), ids};
    }
}
