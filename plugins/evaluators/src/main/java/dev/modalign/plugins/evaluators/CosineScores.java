package dev.modalign.plugins.evaluators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Dot products of query rows with gallery rows (cosine similarities, for unit rows), computed by
 * the engine's matrix product a block of queries at a time, so that at most {@link
 * #BLOCK_ELEMENTS} scores exist at once whatever the number of queries: an N x N matrix is never
 * made.
 */
final class CosineScores {

    /** Scores per block: 4M floats, 16 MB. */
    static final int BLOCK_ELEMENTS = 1 << 22;

    /** Receives one block of scores. */
    interface BlockConsumer {
        /**
         * @param firstQuery the index of the block's first query
         * @param scores row-major [rows, gallery size]: scores[r * gallery + g] is query firstQuery + r with gallery row g
         * @param rows the number of queries in the block
         */
        void accept(int firstQuery, float[] scores, int rows);
    }

    private CosineScores() {}

    /** Hands {@code consumer} the scores of every query against every gallery row, block by block, in query order. */
    static void forEachBlock(NDManager manager, float[][] queries, float[][] gallery, BlockConsumer consumer) {
        if (queries.length == 0 || gallery.length == 0) {
            return;
        }
        int dim = gallery[0].length;
        int blockRows = Math.max(1, BLOCK_ELEMENTS / gallery.length);
        try (NDManager scope = manager.newSubManager()) {
            NDArray galleryTransposed = scope.create(flatten(gallery, 0, gallery.length), new Shape(gallery.length, dim))
                    .transpose();
            for (int start = 0; start < queries.length; start += blockRows) {
                int end = Math.min(queries.length, start + blockRows);
                try (NDManager block = scope.newSubManager()) {
                    NDArray scores = block.create(flatten(queries, start, end), new Shape(end - start, dim))
                            .matMul(galleryTransposed);
                    consumer.accept(start, scores.toFloatArray(), end - start);
                }
            }
        }
    }

    private static float[] flatten(float[][] rows, int start, int end) {
        int dim = rows[start].length;
        float[] flat = new float[(end - start) * dim];
        for (int i = start; i < end; i++) {
            System.arraycopy(rows[i], 0, flat, (i - start) * dim, dim);
        }
        return flat;
    }
}
