package dev.modalign.testkit;

import ai.djl.ndarray.NDArray;
import java.util.Arrays;

/** Assertions on NDArrays that say which element failed. */
public final class Tensors {

    private Tensors() {}

    /** Fails when any element is NaN or infinite, naming what and where. */
    public static void assertFinite(NDArray array, String what) {
        float[] values = array.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new AssertionError(what + " has a non-finite value " + values[i] + " at flat index " + i
                        + " (shape " + array.getShape() + ")");
            }
        }
    }

    /**
     * Fails unless {@code actual} matches {@code expected} element-wise within {@code relTol} of
     * the larger magnitude (with an absolute floor of relTol for values near zero).
     */
    public static void assertClose(float[] expected, float[] actual, double relTol, String what) {
        if (expected.length != actual.length) {
            throw new AssertionError(what + ": expected " + expected.length + " values, found " + actual.length);
        }
        for (int i = 0; i < expected.length; i++) {
            double scale = Math.max(1.0, Math.max(Math.abs(expected[i]), Math.abs(actual[i])));
            if (Math.abs(expected[i] - actual[i]) > relTol * scale) {
                throw new AssertionError(what + " differs at index " + i + ": expected " + expected[i] + ", found "
                        + actual[i] + " (tolerance " + relTol + " relative)\nexpected " + preview(expected)
                        + "\nfound    " + preview(actual));
            }
        }
    }

    private static String preview(float[] values) {
        return Arrays.toString(Arrays.copyOf(values, Math.min(values.length, 8))) + (values.length > 8 ? "..." : "");
    }
}
