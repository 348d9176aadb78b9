package dev.modalign.plugins.timeseries;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TimeWarpTest extends AbstractAugmentationContractTest<TimeWarp.Params> {

    @Override
    protected ComponentFactory<TimeWarp.Params, Augmentation<?>> factory() {
        return TimeseriesPlugin.TIME_WARP;
    }

    @Override
    protected TimeWarp.Params params() {
        return new TimeWarp.Params(0.2, 4, 1.0);
    }

    @Override
    protected Object example() {
        return TestSeries.ramps(60, 60, 1);
    }

    @Test
    void constantSpeedIsTheIdentityAndAFasterStartReadsAhead() {
        double[] identity = TimeWarp.warp(new double[] {1, 1, 1}, 11);
        for (int t = 0; t < 11; t++) {
            assertEquals(t, identity[t], 1e-9);
        }
        // Speed 2 over the first third, falling to 1 over the second, 1 over the last: the total is
        // 2/3 + 1/2 + 1/3 = 1.5, and by the middle 2/3 + (1/6)(2 + 1.5)/2 = 0.958 of it, so output step 50
        // reads input 100 * 0.958 / 1.5 = 63.9.
        double[] fastFirst = TimeWarp.warp(new double[] {2, 2, 1, 1}, 101);
        assertEquals(100, fastFirst[100], 1e-9);
        assertEquals(63.9, fastFirst[50], 0.5);
    }

    @Test
    void aWarpedRampIsMonotoneWithFixedEndsAndSharedByTheChannels() {
        SeriesExample series = TestSeries.ramps(60, 60, 1);
        TimeWarp warp = new TimeWarp(new TimeWarp.Params(0.3, 4, 1.0), TestContext.builder().build());
        Random random = new Random(6);
        double largestMove = 0;
        for (int i = 0; i < 50; i++) {
            float[] out = warp.apply(series, random).window();
            assertEquals(0, out[0], 1e-5);
            assertEquals(59, out[59], 1e-4);
            for (int t = 1; t < 60; t++) {
                assertTrue(out[t] > out[t - 1], "time runs forwards at step " + t);
                assertEquals(-2 * out[t], out[60 + t], 1e-4, "both channels share the warp");
                largestMove = Math.max(largestMove, Math.abs(out[t] - t));
            }
        }
        assertTrue(largestMove > 2, "fifty warps with sigma 0.3 should move some step by more than 2, at most "
                + largestMove);
        // A tiny sigma is nearly the identity.
        float[] gentle = new TimeWarp(new TimeWarp.Params(1e-6, 4, 1.0), TestContext.builder().build())
                .apply(series, new Random(1)).window();
        assertArrayEquals(series.window(), gentle, 1e-3f);
    }
}
