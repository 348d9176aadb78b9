package dev.modalign.plugins.evaluators;

import ai.djl.ndarray.NDManager;
import dev.modalign.testkit.FixedEvalContext;
import java.util.Random;

/** Labelled test embeddings: a random centre per class and records scattered around it. */
record Clusters(float[][] rows, long[] labels) {

    /**
     * @param noise the standard deviation of each coordinate's scatter; centres are Gaussian with
     *     standard deviation 1 per coordinate, so 0.05 in 16 dimensions is far apart
     */
    static Clusters of(int classes, int perClass, int dim, double noise, long seed) {
        Random random = new Random(seed);
        float[][] centres = new float[classes][dim];
        for (float[] centre : centres) {
            for (int j = 0; j < dim; j++) {
                centre[j] = (float) random.nextGaussian();
            }
        }
        float[][] rows = new float[classes * perClass][dim];
        long[] labels = new long[rows.length];
        for (int i = 0; i < rows.length; i++) {
            // Classes interleaved, as records of a real set would be.
            int label = i % classes;
            labels[i] = label;
            for (int j = 0; j < dim; j++) {
                rows[i][j] = (float) (centres[label][j] + noise * random.nextGaussian());
            }
        }
        return new Clusters(rows, labels);
    }

    /** A context with these rows as tower {@code tower}, their labels, and a seed. */
    FixedEvalContext context(NDManager manager, String tower, long seed) {
        return new FixedEvalContext(manager).tower(tower, rows).labels(labels).seed(seed).towers(tower);
    }

    int[] intLabels() {
        int[] ints = new int[labels.length];
        for (int i = 0; i < labels.length; i++) {
            ints[i] = (int) labels[i];
        }
        return ints;
    }
}
