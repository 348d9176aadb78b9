package dev.modalign.plugins.clap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Where each view of CLAP's fusion reads a clip, worked by hand. */
class FusionViewsTest {

    /**
     * L = 10 frames, W = 4: the global view reads source frames (t + .5) 10 / 4 - .5 = .75, 3.25, 5.75, 8.25;
     * the 10 - 4 + 1 = 7 window starts split into [0, 1, 2], [3, 4], [5, 6], whose centres are 1, 4 and 6.
     */
    @Test
    void aLongClipIsResizedWholeAndCutIntoFrontMiddleAndBackWindows() {
        FusionViews views = FusionViews.of(new int[] {10}, 4, true, null);
        assertTrue(views.longer(0));
        FusionViews.View global = views.global();
        assertArrayEquals(new long[] {0, 3, 5, 8}, global.low());
        assertArrayEquals(new long[] {1, 4, 6, 9}, global.high());
        assertArrayEquals(new float[] {.75f, .25f, .75f, .25f}, global.weight(), 1e-6f);
        assertArrayEquals(new float[] {1, 1, 1, 1}, global.valid());
        assertArrayEquals(new long[] {1, 2, 3, 4}, views.local(0).low());
        assertArrayEquals(new long[] {4, 5, 6, 7}, views.local(1).low());
        assertArrayEquals(new long[] {6, 7, 8, 9}, views.local(2).low());
        assertArrayEquals(new float[4], views.local(2).weight());
    }

    @Test
    void theWindowStartsFollowNumpysArraySplitAndStartAtZeroWhereAThirdIsEmpty() {
        assertArrayEquals(new int[] {1, 4, 6}, FusionViews.starts(7, null));
        assertArrayEquals(new int[] {0, 1, 0}, FusionViews.starts(2, null)); // parts [0], [1], []
        assertArrayEquals(new int[] {0, 0, 0}, FusionViews.starts(1, null)); // parts [0], [], []
        Random random = new Random(1);
        Set<Integer> fronts = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            int[] starts = FusionViews.starts(9, random); // parts [0..2], [3..5], [6..8]
            assertTrue(starts[0] <= 2 && starts[1] >= 3 && starts[1] <= 5 && starts[2] >= 6 && starts[2] <= 8,
                    Arrays.toString(starts));
            fronts.add(starts[0]);
        }
        assertEquals(Set.of(0, 1, 2), fronts, "training draws every start of the front third");
    }

    @Test
    void aShortClipIsRepeatedOrFollowedBySilenceAndItsLocalViewsAreTheGlobalOne() {
        FusionViews repeated = FusionViews.of(new int[] {3}, 7, true, null);
        assertFalse(repeated.longer(0));
        assertArrayEquals(new long[] {0, 1, 2, 0, 1, 2, 0}, repeated.global().low());
        assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 1}, repeated.global().valid());
        assertArrayEquals(repeated.global().low(), repeated.local(1).low());
        FusionViews silent = FusionViews.of(new int[] {3}, 7, false, null);
        assertArrayEquals(new float[] {1, 1, 1, 0, 0, 0, 0}, silent.global().valid());
        // A clip of exactly the window is not longer: it is read as it is.
        FusionViews exact = FusionViews.of(new int[] {4}, 4, true, null);
        assertFalse(exact.longer(0));
        assertArrayEquals(new long[] {0, 1, 2, 3}, exact.global().low());
    }

    @Test
    void clipsOfABatchAreLaidOutOneAfterAnother() {
        FusionViews views = FusionViews.of(new int[] {2, 10}, 4, true, null);
        assertFalse(views.longer(0));
        assertTrue(views.longer(1));
        assertArrayEquals(new long[] {0, 1, 0, 1, 0, 3, 5, 8}, views.global().low());
        assertThrows(IllegalArgumentException.class, () -> FusionViews.of(new int[] {0}, 4, true, null));
    }
}
