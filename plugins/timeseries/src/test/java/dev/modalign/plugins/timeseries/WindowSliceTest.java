package dev.modalign.plugins.timeseries;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class WindowSliceTest extends AbstractAugmentationContractTest<WindowSlice.Params> {

    @Override
    protected ComponentFactory<WindowSlice.Params, Augmentation<?>> factory() {
        return TimeseriesPlugin.WINDOW_SLICE;
    }

    @Override
    protected WindowSlice.Params params() {
        return new WindowSlice.Params(0.9, 1.0);
    }

    @Override
    protected Object example() {
        return TestSeries.ramps(40, 40, 1);
    }

    /** On a ramp x[t] = t, a slice from f of s steps stretched to n steps is exactly f + t (s - 1) / (n - 1). */
    @Test
    void stretchesASliceOfTheGivenShareBackToTheWindow() {
        SeriesExample series = TestSeries.ramps(41, 41, 1);
        WindowSlice slice = new WindowSlice(new WindowSlice.Params(0.75, 1.0), TestContext.builder().build());
        Random random = new Random(2);
        boolean[] seen = new boolean[42];
        for (int i = 0; i < 300; i++) {
            float[] out = slice.apply(series, random).window();
            int from = Math.round(out[0]);
            // ceil(0.75 * 41) = 31 steps: starts 0 .. 10.
            assertTrue(from >= 0 && from <= 10, "slice starts at " + from);
            seen[from] = true;
            for (int t = 0; t < 41; t++) {
                double expected = from + t * 30.0 / 40;
                assertEquals(expected, out[t], 1e-4, "step " + t);
                assertEquals(-2 * expected, out[41 + t], 1e-4, "channel 1, step " + t);
            }
        }
        for (int from = 0; from <= 10; from++) {
            assertTrue(seen[from], "start " + from + " never drawn in 300 tries");
        }
    }
}
