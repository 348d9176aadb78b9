package dev.modalign.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.reflect.TypeToken;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.provider.Arguments;

/**
 * Reads the reference vectors that a method plugin's {@code src/test/python/make_reference.py}
 * writes with numpy in float64, and compares a Java loss's values and gradients with them.
 *
 * <p>A reference file is a JSON object {@code {"description": ..., "cases": [...]}} whose keys are
 * snake_case; a test declares one record per case with the same names in camelCase. Inputs are
 * float32 values written as doubles, so {@link #floats} and {@link #array} give the loss exactly
 * the numbers numpy used. Expected values stay in float64: every comparison measures
 * {@code |expected - actual| / max(1, |expected|, |actual|)} (relative for large values, absolute
 * near zero), the measure {@link Tensors#assertClose} uses, and counts a NaN or infinite value as an
 * infinite error.
 */
public final class ReferenceVectors {

    private static final Gson GSON =
            new GsonBuilder().setFieldNamingPolicy(FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES).create();

    private ReferenceVectors() {}

    /**
     * The {@code cases} of a reference file on the test class path, each read into {@code caseType}
     * (snake_case keys to camelCase components). The resource is looked up with the case type's
     * class, so a plugin's own test resources are found.
     */
    public static <C> List<C> cases(String resource, Class<C> caseType) {
        try (InputStream stream = caseType.getResourceAsStream(resource)) {
            if (stream == null) {
                throw new IllegalStateException("no reference file " + resource + " on the test class path; run the"
                        + " plugin's src/test/python/make_reference.py to write it into src/test/resources");
            }
            JsonObject file = GSON.fromJson(new InputStreamReader(stream, StandardCharsets.UTF_8), JsonObject.class);
            JsonElement cases = file.get("cases");
            if (cases == null || !cases.isJsonArray()) {
                throw new IllegalStateException(resource + " has no \"cases\" array; keys found: " + file.keySet());
            }
            return GSON.fromJson(cases, TypeToken.getParameterized(List.class, caseType).getType());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource, e);
        }
    }

    /**
     * Arguments for a parameterized test that runs each case with a flag (a learnable temperature,
     * say): the case, named, with {@code true}, and after it with {@code false} where {@code
     * alsoWithFalse} holds for the case.
     */
    public static <C> Stream<Arguments> withFlag(List<C> cases, Function<C, String> name,
            Predicate<C> alsoWithFalse) {
        return cases.stream().flatMap(c -> {
            Named<C> named = Named.of(name.apply(c), c);
            return alsoWithFalse.test(c) ? Stream.of(Arguments.of(named, true), Arguments.of(named, false))
                    : Stream.of(Arguments.of(named, true));
        });
    }

    /** The values rounded to float32. */
    public static float[] floats(double[] values) {
        float[] floats = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            floats[i] = (float) values[i];
        }
        return floats;
    }

    /** The rows rounded to float32. */
    public static float[][] floats(double[][] rows) {
        float[][] floats = new float[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            floats[i] = floats(rows[i]);
        }
        return floats;
    }

    /** The rows one after another. */
    public static double[] flatten(double[][] rows) {
        return Stream.of(rows).flatMapToDouble(Arrays::stream).toArray();
    }

    /** The blocks one after another, each row by row. */
    public static double[] flatten(double[][][] blocks) {
        return Stream.of(blocks).flatMapToDouble(block -> Arrays.stream(flatten(block))).toArray();
    }

    /** A float32 array of shape [rows, columns] in the manager. */
    public static NDArray array(NDManager manager, double[][] rows) {
        return manager.create(floats(flatten(rows)), shapeOf(rows));
    }

    /** A float32 array of shape [blocks, rows, columns] in the manager (token features, say). */
    public static NDArray array(NDManager manager, double[][][] blocks) {
        return manager.create(floats(flatten(blocks)), shapeOf(blocks));
    }

    /**
     * The largest {@code |expected - actual| / max(1, |expected|, |actual|)} over the values,
     * infinite where a value is not finite.
     */
    public static double relativeError(double[] expected, float[] actual) {
        return compare(expected, actual).error();
    }

    /** {@link #relativeError(double[], float[])} of a one-element array (a loss value, a metric). */
    public static double relativeError(double expected, NDArray actual) {
        return compare(new double[] {expected}, new Shape(), actual, "value").error();
    }

    /** {@link #relativeError(double[], float[])} of an array of the same shape as the rows. */
    public static double relativeError(double[][] expected, NDArray actual) {
        return compare(flatten(expected), shapeOf(expected), actual, "values").error();
    }

    /** {@link #relativeError(double[], float[])} of an array of the same shape as the blocks. */
    public static double relativeError(double[][][] expected, NDArray actual) {
        return compare(flatten(expected), shapeOf(expected), actual, "values").error();
    }

    /**
     * Fails unless the one-element array matches within {@code tolerance} (the measure of {@link
     * #relativeError(double[], float[])}), saying what was compared; returns the error.
     */
    public static double assertMatches(double expected, NDArray actual, double tolerance, String what) {
        return compare(new double[] {expected}, new Shape(), actual, what).check(tolerance, what);
    }

    /**
     * Fails unless the array has the rows' shape and matches them within {@code tolerance}, naming
     * the worst element; returns the error.
     */
    public static double assertMatches(double[][] expected, NDArray actual, double tolerance, String what) {
        return compare(flatten(expected), shapeOf(expected), actual, what).check(tolerance, what);
    }

    /**
     * Fails unless the array has the blocks' shape and matches them within {@code tolerance}, naming
     * the worst element; returns the error.
     */
    public static double assertMatches(double[][][] expected, NDArray actual, double tolerance, String what) {
        return compare(flatten(expected), shapeOf(expected), actual, what).check(tolerance, what);
    }

    private static Shape shapeOf(double[][] rows) {
        return new Shape(rows.length, rows.length == 0 ? 0 : rows[0].length);
    }

    private static Shape shapeOf(double[][][] blocks) {
        Shape block = blocks.length == 0 ? new Shape(0, 0) : shapeOf(blocks[0]);
        return new Shape(blocks.length, block.get(0), block.get(1));
    }

    /** Compares with an array of the expected shape; a one-element expectation matches any one-element array. */
    private static Comparison compare(double[] expected, Shape shape, NDArray actual, String what) {
        boolean scalar = expected.length == 1 && actual.size() == 1;
        if (!scalar && !actual.getShape().equals(shape)) {
            throw new AssertionError(what + ": expected an array of shape " + shape + ", found " + actual.getShape());
        }
        return compare(expected, actual.toType(DataType.FLOAT32, false).toFloatArray(), shape);
    }

    private static Comparison compare(double[] expected, float[] actual) {
        return compare(expected, actual, new Shape(expected.length));
    }

    private static Comparison compare(double[] expected, float[] actual, Shape shape) {
        if (expected.length != actual.length) {
            throw new AssertionError("expected " + expected.length + " values, found " + actual.length);
        }
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double error;
            if (!Float.isFinite(actual[i]) || !Double.isFinite(expected[i])) {
                error = Double.POSITIVE_INFINITY;
            } else {
                double scale = Math.max(1.0, Math.max(Math.abs(expected[i]), Math.abs(actual[i])));
                error = Math.abs(expected[i] - actual[i]) / scale;
            }
            if (at < 0 || error > worst) {
                worst = error;
                at = i;
            }
        }
        return new Comparison(expected, actual, shape, worst, at);
    }

    /** The worst element of a comparison: its error and flat index (-1 when there are no values). */
    private record Comparison(double[] expected, float[] actual, Shape shape, double error, int at) {

        double check(double tolerance, String what) {
            if (!(error <= tolerance)) {
                throw new AssertionError(String.format("%s: off by %.3g (|expected - actual| / max(1, |expected|,"
                        + " |actual|)), more than %.3g, worst at %s: expected %s, found %s", what, error, tolerance,
                        position(), expected[at], actual[at]));
            }
            return error;
        }

        /** The worst element's index in the array's shape, e.g. [2, 0], and its flat index. */
        private String position() {
            long[] index = new long[shape.dimension()];
            long rest = at;
            for (int d = index.length - 1; d >= 0; d--) {
                index[d] = rest % shape.get(d);
                rest /= shape.get(d);
            }
            return Arrays.toString(index) + " (flat index " + at + ")";
        }
    }
}
