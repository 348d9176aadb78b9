package dev.modalign.plugins.encoders;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * The average of a sequence's token embeddings over its real tokens, as in "Bag of Tricks for
 * Efficient Text Classification" (Joulin et al., 2017): NDList(ids [B, T], mask [B, T]) to
 * NDList(pooled [B, D]). Padding contributes nothing, so appending padding leaves the result as is.
 */
final class MeanTokenEmbedding extends AbstractBlock {

    private static final byte VERSION = 1;

    private final TokenEmbedding embedding;
    private final int size;

    MeanTokenEmbedding(int vocabularySize, int size) {
        super(VERSION);
        this.size = size;
        this.embedding = addChildBlock("embedding", new TokenEmbedding(vocabularySize, size, null));
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList vectors = embedding.forward(parameterStore, new NDList(inputs.get(0)), training);
        return new NDList(MaskedMeanPooling.pool(vectors.get(0), inputs.get(1)));
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        embedding.initialize(manager, dataType, inputShapes[0]);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), size)};
    }
}
