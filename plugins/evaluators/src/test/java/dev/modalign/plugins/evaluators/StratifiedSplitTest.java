package dev.modalign.plugins.evaluators;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.InvalidParamException;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The seeded, per-class split into fit and test parts. */
class StratifiedSplitTest {

    /** 10 of class 0, 4 of class 1, 1 of class 2, 2 of class 3, in mixed order. */
    private static final int[] LABELS = {0, 1, 0, 0, 2, 1, 0, 0, 3, 0, 1, 0, 0, 3, 1, 0, 0};

    @Test
    void eachClassIsSplitByTheFraction() {
        StratifiedSplit split = StratifiedSplit.of(LABELS, 0.5, 7);
        assertEquals(5, count(split.test(), 0));
        assertEquals(2, count(split.test(), 1));
        assertEquals(1, count(split.test(), 3));
        // A class of one record keeps it in the fit part.
        assertEquals(0, count(split.test(), 2));
        assertEquals(1, count(split.fit(), 2));

        StratifiedSplit small = StratifiedSplit.of(LABELS, 0.1, 7);
        // round(0.1 x 10) = 1; round(0.1 x 4) = 0 is raised to 1, so every class of two or more is tested.
        assertEquals(1, count(small.test(), 0));
        assertEquals(1, count(small.test(), 1));
        assertEquals(1, count(small.test(), 3));
        StratifiedSplit large = StratifiedSplit.of(LABELS, 0.95, 7);
        // ... and keeps one record to fit on.
        assertEquals(1, count(large.fit(), 0));
        assertEquals(1, count(large.fit(), 3));
    }

    @Test
    void thePartsAreDisjointAscendingAndCoverEveryRecord() {
        StratifiedSplit split = StratifiedSplit.of(LABELS, 0.3, 1);
        int[] all = IntStream.concat(Arrays.stream(split.fit()), Arrays.stream(split.test())).sorted().toArray();
        assertArrayEquals(IntStream.range(0, LABELS.length).toArray(), all);
        assertArrayEquals(Arrays.stream(split.fit()).sorted().toArray(), split.fit());
        assertArrayEquals(Arrays.stream(split.test()).sorted().toArray(), split.test());
    }

    @Test
    void theSeedDecidesTheSplit() {
        StratifiedSplit first = StratifiedSplit.of(LABELS, 0.5, 42);
        assertArrayEquals(first.test(), StratifiedSplit.of(LABELS, 0.5, 42).test());
        boolean anotherSeedDiffers = IntStream.range(0, 10)
                .anyMatch(seed -> !Arrays.equals(first.test(), StratifiedSplit.of(LABELS, 0.5, seed).test()));
        assertTrue(anotherSeedDiffers, "ten other seeds all gave the same split");
    }

    @Test
    void fractionsOutsideZeroToOneAreRejectedByName() {
        for (double bad : new double[] {0, 1, -0.5, 1.5, Double.NaN}) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> StratifiedSplit.checkFraction("test_fraction", bad));
            assertEquals("test_fraction", error.key());
            assertTrue(error.getMessage().contains("found " + bad), error.getMessage());
        }
        assertEquals(0.5, StratifiedSplit.checkFraction("test_fraction", 0.5));
    }

    private static long count(int[] indices, int label) {
        return Arrays.stream(indices).filter(i -> LABELS[i] == label).count();
    }
}
