package dev.modalign.plugins.evaluators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.EvalContext;
import dev.modalign.api.InvalidParamException;
import java.util.List;

/**
 * The evaluation set as plain Java arrays: a tower's embeddings as L2-normalised rows (the frozen
 * features every evaluator here works on, compared by cosine similarity) and the class labels.
 * Normalising in double and storing float keeps N x D rows at the size the host already holds.
 */
final class EvalSet {

    private EvalSet() {}

    /** A tower's embeddings [N, D] as unit rows; a zero row stays zero. */
    static float[][] unitRows(EvalContext context, String tower) {
        return unitRows(context.embeddings(tower), "tower '" + tower + "'");
    }

    /** Embeddings [N, D] as unit rows; {@code what} names them in errors. */
    static float[][] unitRows(NDArray embeddings, String what) {
        Shape shape = embeddings.getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException(what + " gave embeddings of shape " + shape + "; evaluators need [N, D]");
        }
        int n = Math.toIntExact(shape.get(0));
        int d = Math.toIntExact(shape.get(1));
        float[] flat = embeddings.toType(DataType.FLOAT32, false).toFloatArray();
        float[][] rows = new float[n][d];
        for (int i = 0; i < n; i++) {
            double squares = 0;
            for (int j = 0; j < d; j++) {
                double value = flat[i * d + j];
                squares += value * value;
            }
            double norm = Math.max(Math.sqrt(squares), 1e-12);
            for (int j = 0; j < d; j++) {
                rows[i][j] = (float) (flat[i * d + j] / norm);
            }
        }
        return rows;
    }

    /** A sum or mean of rows as a float unit row: the normalised mean of prototypes and prompt ensembles. */
    static float[] unitFloats(double[] row) {
        normalise(row);
        float[] unit = new float[row.length];
        for (int j = 0; j < row.length; j++) {
            unit[j] = (float) row[j];
        }
        return unit;
    }

    /** A row scaled to unit norm (a zero row stays zero), in place; returns it. */
    static double[] normalise(double[] row) {
        double squares = 0;
        for (double value : row) {
            squares += value * value;
        }
        double norm = Math.max(Math.sqrt(squares), 1e-12);
        for (int j = 0; j < row.length; j++) {
            row[j] /= norm;
        }
        return row;
    }

    /**
     * The records' class labels, checked against the number of rows; an error that says how to add
     * them when the evaluation set has none.
     */
    static int[] labels(EvalContext context, String evaluator, int records) {
        NDArray array = context.labels().orElseThrow(() -> new IllegalArgumentException(evaluator
                + " needs class labels, but the evaluation set has none; add 'label: <field>' to data.eval, naming the"
                + " record field that holds each record's class (an integer from 0)"));
        long[] values = array.toType(DataType.INT64, false).toLongArray();
        if (values.length != records) {
            throw new IllegalArgumentException(evaluator + ": the evaluation set has " + records + " rows of embeddings but "
                    + values.length + " labels");
        }
        int[] labels = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            if (values[i] < 0 || values[i] > Integer.MAX_VALUE - 1) {
                throw new IllegalArgumentException(evaluator + ": record " + i + " has the label " + values[i]
                        + "; labels are class indices 0, 1, 2, ...");
            }
            labels[i] = (int) values[i];
        }
        return labels;
    }

    /** The number of classes the labels index: the largest label plus one. */
    static int classCount(int[] labels) {
        int max = -1;
        for (int label : labels) {
            max = Math.max(max, label);
        }
        return max + 1;
    }

    /** The number of distinct labels. */
    static int distinctClasses(int[] labels) {
        return (int) java.util.Arrays.stream(labels).distinct().count();
    }

    /** The one tower an evaluator of one tower's embeddings reads, or an error naming the key. */
    static String oneTower(List<String> towers, String evaluator) {
        if (towers.size() != 1) {
            throw new InvalidParamException("towers", evaluator + " reads the embeddings of exactly one tower, found "
                    + towers + "; e.g. towers: [image]");
        }
        return towers.get(0);
    }

    /** The two different towers of a paired evaluator, or an error naming the key. */
    static List<String> twoTowers(List<String> towers, String evaluator, String example) {
        if (towers.size() != 2 || towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", evaluator + " reads two different towers, found " + towers + "; e.g. "
                    + example);
        }
        return towers;
    }

    /** Checks that two sets of rows can be compared by cosine similarity. */
    static void requireSameDim(float[][] first, String firstName, float[][] second, String secondName) {
        int firstDim = first.length == 0 ? 0 : first[0].length;
        int secondDim = second.length == 0 ? 0 : second[0].length;
        if (first.length > 0 && second.length > 0 && firstDim != secondDim) {
            throw new IllegalArgumentException("cosine similarity needs one embedding size, but " + firstName + " has "
                    + firstDim + " and " + secondName + " has " + secondDim + "; give both encoders the same embed_dim");
        }
    }
}
