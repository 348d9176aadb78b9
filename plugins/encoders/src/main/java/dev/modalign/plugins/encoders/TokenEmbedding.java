package dev.modalign.plugins.encoders;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;

/**
 * A learned lookup table from token ids to vectors: NDList(ids int [B, T]) to NDList(vectors [B,
 * T, D]). The lookup is one gather, so its gradient is a scatter-add into the rows that were used.
 */
final class TokenEmbedding extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int vocabularySize;
    private final int size;
    private final Parameter table;

    /** @param initializer how the table starts; null keeps DJL's default for weights */
    TokenEmbedding(int vocabularySize, int size, Initializer initializer) {
        super(VERSION);
        this.vocabularySize = vocabularySize;
        this.size = size;
        Parameter.Builder builder = Parameter.builder().setName("table").setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(vocabularySize, size));
        if (initializer != null) {
            builder.optInitializer(initializer);
        }
        this.table = addParameter(builder.build());
    }

    /** The table [vocabularySize, size]. */
    Parameter table() {
        return table;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.get(0);
        // An id outside the table would fail deep in the engine; say which side is wrong instead.
        long largest = ids.max().toType(DataType.INT64, false).getLong();
        long smallest = ids.min().toType(DataType.INT64, false).getLong();
        if (largest >= vocabularySize || smallest < 0) {
            throw new IllegalArgumentException("token id " + (smallest < 0 ? smallest : largest)
                    + " is outside the encoder's vocabulary of " + vocabularySize
                    + " ids; the modality's tokenizer and the encoder's input spec disagree");
        }
        NDArray weights = parameterStore.getValue(table, ids.getDevice(), training);
        return new NDList(weights.get(new NDIndex("{}", ids)));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(size)};
    }
}
