package dev.modalign.core.compose;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.InvalidParamException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SplitTest {

    private static final int IDS = 30_000;

    @Test
    void partsMatchTheirFractionsWithinSamplingNoise() {
        List<Double> fractions = List.of(0.7, 0.2, 0.1);
        Split split = Split.of("all", fractions, 3);
        Map<Split.Part, Integer> counts = new EnumMap<>(Split.Part.class);
        for (int i = 0; i < IDS; i++) {
            counts.merge(split.partOf(String.format("%09d", i)), 1, Integer::sum);
        }
        for (Split.Part part : Split.Part.values()) {
            double p = fractions.get(part.ordinal());
            double expected = IDS * p;
            double sigma = Math.sqrt(IDS * p * (1 - p));
            int found = counts.getOrDefault(part, 0);
            assertTrue(Math.abs(found - expected) < 4.5 * sigma,
                    part + ": " + found + " of " + IDS + ", expected " + expected + " +- " + 4.5 * sigma);
        }
    }

    @Test
    void theChosenPartContainsExactlyItsIds() {
        Split all = Split.of("all", null, 0);
        Split train = Split.of("train", null, 0);
        Split test = Split.of("TEST", null, 0);
        for (int i = 0; i < 1000; i++) {
            String id = "k" + i;
            assertTrue(all.contains(id));
            assertEquals(all.partOf(id) == Split.Part.TRAIN, train.contains(id), id);
            assertEquals(all.partOf(id) == Split.Part.TEST, test.contains(id), id);
        }
        assertTrue(all.isAll());
        assertFalse(train.isAll());
        assertEquals("train of [0.8, 0.1, 0.1] with seed 0", train.describe());
    }

    @Test
    void theSeedReshufflesTheParts() {
        Split first = Split.of("train", null, 0);
        Split second = Split.of("train", null, 1);
        List<Boolean> a = new ArrayList<>();
        List<Boolean> b = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            a.add(first.contains("id-" + i));
            b.add(second.contains("id-" + i));
        }
        assertNotEquals(a, b);
    }

    @Test
    void aZeroFractionLeavesItsPartEmpty() {
        Split split = Split.of("all", List.of(0.5, 0.5, 0.0), 0);
        for (int i = 0; i < 2000; i++) {
            assertNotEquals(Split.Part.TEST, split.partOf("x" + i));
        }
    }

    @Test
    void badParametersNameTheirKey() {
        assertEquals("split", assertThrows(InvalidParamException.class, () -> Split.of("val", null, 0)).key());
        InvalidParamException sum = assertThrows(InvalidParamException.class,
                () -> Split.of("train", List.of(0.8, 0.1, 0.2), 0));
        assertEquals("split_fractions", sum.key());
        assertTrue(sum.getMessage().contains("sum to 1"), sum.getMessage());
        assertEquals("split_fractions", assertThrows(InvalidParamException.class,
                () -> Split.of("train", List.of(0.9, 0.1), 0)).key());
        assertEquals("split_fractions", assertThrows(InvalidParamException.class,
                () -> Split.of("train", List.of(1.2, -0.1, -0.1), 0)).key());
        InvalidParamException empty = assertThrows(InvalidParamException.class,
                () -> Split.of("test", List.of(0.9, 0.1, 0.0), 0));
        assertTrue(empty.getMessage().contains("would read nothing"), empty.getMessage());
    }
}
