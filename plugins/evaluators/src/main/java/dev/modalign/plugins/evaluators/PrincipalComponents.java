package dev.modalign.plugins.evaluators;

/**
 * The leading principal components of a set of rows: the top eigenvectors of their covariance,
 * found by orthogonal (subspace) iteration, Golub and Van Loan, "Matrix Computations", Section 8.2.4,
 * from a fixed start, so the same rows always give the same axes. Each axis's sign is fixed so that
 * its largest-magnitude entry is positive.
 *
 * @param mean the rows' mean [D]
 * @param axes the components [count][D], unit length, in order of the variance they explain (a zero
 *     row where the data has fewer dimensions of variance)
 * @param explained the fraction of the total variance along each axis
 */
record PrincipalComponents(double[] mean, double[][] axes, double[] explained) {

    private static final int MAX_ITERATIONS = 2000;
    private static final double CONVERGED = 1e-12;

    /** The first {@code count} principal components of {@code rows} (all of one length, at least one row). */
    static PrincipalComponents of(float[][] rows, int count) {
        int n = rows.length;
        int dim = rows[0].length;
        double[] mean = new double[dim];
        for (float[] row : rows) {
            for (int j = 0; j < dim; j++) {
                mean[j] += row[j];
            }
        }
        for (int j = 0; j < dim; j++) {
            mean[j] /= n;
        }
        double[][] covariance = new double[dim][dim];
        double[] centred = new double[dim];
        for (float[] row : rows) {
            for (int j = 0; j < dim; j++) {
                centred[j] = row[j] - mean[j];
            }
            for (int p = 0; p < dim; p++) {
                for (int q = p; q < dim; q++) {
                    covariance[p][q] += centred[p] * centred[q];
                }
            }
        }
        double total = 0;
        for (int p = 0; p < dim; p++) {
            for (int q = p; q < dim; q++) {
                covariance[p][q] /= n;
                covariance[q][p] = covariance[p][q];
            }
            total += covariance[p][p];
        }

        double[][] axes = new double[count][dim];
        for (int k = 0; k < count; k++) {
            // A start that is not orthogonal to any axis in practice, and the same on every run.
            for (int j = 0; j < dim; j++) {
                axes[k][j] = 1.0 / (1 + j + k * 7.0 / 3) + (j % (k + 2) == 0 ? 0.5 : 0);
            }
        }
        orthonormalise(axes);
        for (int iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
            double[][] next = new double[count][];
            for (int k = 0; k < count; k++) {
                next[k] = multiply(covariance, axes[k]);
            }
            orthonormalise(next);
            double change = 0;
            for (int k = 0; k < count; k++) {
                change = Math.max(change, 1 - Math.abs(dot(next[k], axes[k])));
            }
            axes = next;
            if (change < CONVERGED) {
                break;
            }
        }
        double[] explained = new double[count];
        for (int k = 0; k < count; k++) {
            fixSign(axes[k]);
            explained[k] = total > 0 ? dot(axes[k], multiply(covariance, axes[k])) / total : 0;
        }
        return new PrincipalComponents(mean, axes, explained);
    }

    /** The coordinates of {@code row} along each axis, after centring. */
    double[] project(float[] row) {
        double[] coordinates = new double[axes.length];
        for (int k = 0; k < axes.length; k++) {
            double sum = 0;
            for (int j = 0; j < row.length; j++) {
                sum += (row[j] - mean[j]) * axes[k][j];
            }
            coordinates[k] = sum;
        }
        return coordinates;
    }

    /** Gram-Schmidt, in place; a vector that (all but) vanishes, as when no variance is left, becomes zero. */
    private static void orthonormalise(double[][] vectors) {
        for (int k = 0; k < vectors.length; k++) {
            double before = Math.sqrt(dot(vectors[k], vectors[k]));
            for (int previous = 0; previous < k; previous++) {
                double projection = dot(vectors[k], vectors[previous]);
                for (int j = 0; j < vectors[k].length; j++) {
                    vectors[k][j] -= projection * vectors[previous][j];
                }
            }
            double norm = Math.sqrt(dot(vectors[k], vectors[k]));
            for (int j = 0; j < vectors[k].length; j++) {
                vectors[k][j] = norm > 1e-9 * before ? vectors[k][j] / norm : 0;
            }
        }
    }

    private static void fixSign(double[] axis) {
        int largest = 0;
        for (int j = 1; j < axis.length; j++) {
            if (Math.abs(axis[j]) > Math.abs(axis[largest])) {
                largest = j;
            }
        }
        if (axis[largest] < 0) {
            for (int j = 0; j < axis.length; j++) {
                axis[j] = -axis[j];
            }
        }
    }

    private static double[] multiply(double[][] matrix, double[] vector) {
        double[] out = new double[matrix.length];
        for (int p = 0; p < matrix.length; p++) {
            out[p] = dot(matrix[p], vector);
        }
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }
}
