package dev.modalign.plugins.amcl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.Initializer;
import java.util.Random;

/**
 * A [D, d'] projection with orthonormal columns (or rows, where d' > D), drawn from a Gaussian matrix
 * seeded by the run's seed and the head's number and orthonormalised by modified Gram-Schmidt in double
 * precision. An orthonormal projection keeps the cosines of what it projects where d' >= D, and projects
 * onto a random d'-dimensional subspace where d' &lt; D, so every head starts from a different view of
 * the towers' common space; drawing in Java makes the start the same for a seed on any engine.
 */
final class OrthonormalInitializer implements Initializer {

    private final long seed;

    OrthonormalInitializer(long seed) {
        this.seed = seed;
    }

    /** A seed for one head, from the run's seed (SplitMix64's finaliser, so that nearby seeds give unrelated streams). */
    static long derive(long runSeed, int head) {
        long z = runSeed + 0x9E3779B97F4A7C15L * (head + 1L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public NDArray initialize(NDManager manager, Shape shape, DataType dataType) {
        int rows = Math.toIntExact(shape.get(0));
        int columns = Math.toIntExact(shape.get(1));
        // Orthonormalise the shorter side's vectors, each of the longer side's length.
        int vectors = Math.min(rows, columns);
        int length = Math.max(rows, columns);
        Random random = new Random(seed);
        double[][] basis = new double[vectors][length];
        for (int v = 0; v < vectors; v++) {
            for (int i = 0; i < length; i++) {
                basis[v][i] = random.nextGaussian();
            }
            for (int u = 0; u < v; u++) {
                double dot = 0;
                for (int i = 0; i < length; i++) {
                    dot += basis[v][i] * basis[u][i];
                }
                for (int i = 0; i < length; i++) {
                    basis[v][i] -= dot * basis[u][i];
                }
            }
            double norm = 0;
            for (int i = 0; i < length; i++) {
                norm += basis[v][i] * basis[v][i];
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < length; i++) {
                basis[v][i] /= norm;
            }
        }
        float[] values = new float[rows * columns];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < columns; c++) {
                values[r * columns + c] = (float) (rows >= columns ? basis[c][r] : basis[r][c]);
            }
        }
        return manager.create(values, shape).toType(dataType, false);
    }
}
