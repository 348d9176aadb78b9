package dev.modalign.plugins.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.DataRecord;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RandomVectorsSourceTest {

    private static RandomVectorsSource source(long seed, int classes) {
        return new RandomVectorsSource(new RandomVectorsSource.Params(100, seed, Map.of("image", 3072, "text", 7), classes),
                TestContext.builder().build());
    }

    @Test
    void recordsHaveTheFieldsAndLengthsAsked() {
        DataRecord record = source(1, 5).get(42);
        assertEquals(3072, ((float[]) record.field("image")).length);
        assertEquals(7, ((float[]) record.field("text")).length);
        int label = (Integer) record.field("label");
        assertTrue(label >= 0 && label < 5, "label " + label);
        assertEquals("random-1-42", record.id());
    }

    @Test
    void valuesHaveMeanZeroAndVarianceOneAndStayInsideTheUniformRange() {
        float[] values = (float[]) source(3, 0).get(0).field("image");
        double sum = 0;
        double squares = 0;
        for (float value : values) {
            assertTrue(Math.abs(value) <= Math.sqrt(3), "value " + value);
            sum += value;
            squares += value * value;
        }
        double mean = sum / values.length;
        double variance = squares / values.length - mean * mean;
        // 3072 draws: the standard error of the mean is 1/sqrt(3072) = 0.018, of the variance about 0.016.
        assertEquals(0, mean, 0.08);
        assertEquals(1, variance, 0.08);
    }

    @Test
    void theSameSeedAndIndexGiveTheSameValuesAndOthersDiffer() {
        float[] first = (float[]) source(7, 0).get(3).field("text");
        assertArrayEquals(first, (float[]) source(7, 0).get(3).field("text"));
        assertFalse(Arrays.equals(first, (float[]) source(8, 0).get(3).field("text")), "another seed");
        assertFalse(Arrays.equals(first, (float[]) source(7, 0).get(4).field("text")), "another record");
    }

    @Test
    void tooManyValuesToKeepIsRefusedNamingSize() {
        InvalidParamException error = assertThrows(InvalidParamException.class,
                () -> new RandomVectorsSource.Params(1_000_000, 0, Map.of("image", 3072), 0));
        assertEquals("size", error.key());
        assertThrows(InvalidParamException.class, () -> new RandomVectorsSource.Params(10, 0, Map.of("x", 0), 0));
    }
}
