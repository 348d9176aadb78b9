package dev.modalign.plugins.modalitystructure;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.Stream;

/** Reads the reference files that src/test/python/make_reference.py writes, and measures errors against them. */
final class References {

    /** The tolerance of every value and gradient, relative to max(1, |value|). */
    static final double TOLERANCE = 1e-5;

    private static final Gson GSON =
            new GsonBuilder().setFieldNamingPolicy(FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES).create();

    private References() {}

    static <T> T read(String resource, Type type) {
        try (InputStream stream = References.class.getResourceAsStream(resource);
                Reader reader = new InputStreamReader(stream, StandardCharsets.UTF_8)) {
            return GSON.fromJson(reader, type);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The largest |expected - actual| / max(1, |expected|, |actual|), as Tensors.assertClose measures it. */
    static double relativeError(double[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, "number of values");
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            if (!Float.isFinite(actual[i])) {
                return Double.POSITIVE_INFINITY;
            }
            double scale = Math.max(1.0, Math.max(Math.abs(expected[i]), Math.abs(actual[i])));
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]) / scale);
        }
        return worst;
    }

    static double relativeError(double expected, float actual) {
        return relativeError(new double[] {expected}, new float[] {actual});
    }

    static float[][] toFloat(double[][] rows) {
        float[][] values = new float[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            values[i] = new float[rows[i].length];
            for (int j = 0; j < rows[i].length; j++) {
                values[i][j] = (float) rows[i][j];
            }
        }
        return values;
    }

    static float[] toFloat(double[] values) {
        float[] floats = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            floats[i] = (float) values[i];
        }
        return floats;
    }

    static double[] flatten(double[][] rows) {
        return Stream.of(rows).flatMapToDouble(Arrays::stream).toArray();
    }

    static double[] flatten(double[][][] blocks) {
        return Stream.of(blocks).flatMapToDouble(b -> Arrays.stream(flatten(b))).toArray();
    }
}
