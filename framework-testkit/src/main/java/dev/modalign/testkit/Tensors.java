package dev.modalign.testkit;

import ai.djl.ndarray.NDArray;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

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
            if (Float.isNaN(expected[i]) != Float.isNaN(actual[i]) || Math.abs(expected[i] - actual[i]) > relTol * scale) {
                throw new AssertionError(what + " differs at index " + i + ": expected " + expected[i] + ", found "
                        + actual[i] + " (tolerance " + relTol + " relative)\nexpected " + preview(expected)
                        + "\nfound    " + preview(actual));
            }
        }
    }

    private static String preview(float[] values) {
        return Arrays.toString(Arrays.copyOf(values, Math.min(values.length, 8))) + (values.length > 8 ? "..." : "");
    }

    /**
     * Runs the garbage collector, lets freed direct buffers go back to the native allocator, and then
     * allocates and fills many small buffers so that freed memory is overwritten. Call it between a
     * forward and a backward pass: a component whose backward pass reads memory that nothing keeps
     * alive (see {@code dev.modalign.api.Scalars}) then gets different gradients. Keep the returned
     * object until the backward pass is done.
     */
    public static Object collectGarbageAndScribble() {
        for (int round = 0; round < 3; round++) {
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        List<ByteBuffer> scribbles = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            ByteBuffer buffer = ByteBuffer.allocateDirect(4 + (i % 16) * 4);
            while (buffer.hasRemaining()) {
                buffer.put((byte) 0x7f);
            }
            scribbles.add(buffer);
        }
        return scribbles;
    }

    /** The advice that goes with a failure of a check made with {@link #collectGarbageAndScribble()}. */
    public static final String GARBAGE_ADVICE = "gradients change when the garbage collector runs between forward and "
            + "backward: an operation with a Java number (x.mul(0.5), x.div(t), x.pow(2), x.maximum(eps), ...) lends "
            + "PyTorch memory that Java frees; use dev.modalign.api.Scalars (Scalars.div(x, t)) for anything gradients "
            + "flow through";
}
