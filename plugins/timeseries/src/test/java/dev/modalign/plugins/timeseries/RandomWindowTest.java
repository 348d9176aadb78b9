package dev.modalign.plugins.timeseries;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RandomWindowTest extends AbstractAugmentationContractTest<RandomWindow.Params> {

    @Override
    protected ComponentFactory<RandomWindow.Params, Augmentation<?>> factory() {
        return TimeseriesPlugin.RANDOM_WINDOW;
    }

    @Override
    protected RandomWindow.Params params() {
        return new RandomWindow.Params(1.0);
    }

    @Override
    protected Object example() {
        return TestSeries.ramps(100, 10, 1);
    }

    @Test
    void startsAreMultiplesOfTheStrideInsideTheRecordAndAllReached() {
        // 100 steps, window 10, stride 4: starts 0, 4, ..., 88 (the last that keeps the window inside).
        SeriesExample series = TestSeries.ramps(100, 10, 4);
        RandomWindow window = new RandomWindow(new RandomWindow.Params(1.0), TestContext.builder().build());
        Random random = new Random(1);
        int[] counts = new int[23];
        for (int i = 0; i < 2300; i++) {
            SeriesExample out = window.apply(series, random);
            int start = out.windowStart();
            assertEquals(0, start % 4, "start " + start);
            assertTrue(start <= 88, "start " + start);
            counts[start / 4]++;
            float[] expected = new float[20];
            for (int t = 0; t < 10; t++) {
                expected[t] = start + t;
                expected[10 + t] = -2 * (start + t);
            }
            assertArrayEquals(expected, out.window());
        }
        for (int count : counts) {
            // Binomial(2300, 1/23): mean 100, sd 9.8; 5 sd either side.
            assertEquals(100, count, 49);
        }
    }

    @Test
    void aRecordNoLongerThanTheWindowIsLeftAsItIs() {
        SeriesExample series = TestSeries.ramps(10, 10, 1);
        assertSame(series, new RandomWindow(new RandomWindow.Params(1.0), TestContext.builder().build())
                .apply(series, new Random(3)));
    }
}
