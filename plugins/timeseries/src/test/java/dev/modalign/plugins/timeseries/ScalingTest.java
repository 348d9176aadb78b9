package dev.modalign.plugins.timeseries;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ScalingTest extends AbstractAugmentationContractTest<Scaling.Params> {

    @Override
    protected ComponentFactory<Scaling.Params, Augmentation<?>> factory() {
        return TimeseriesPlugin.SCALING;
    }

    @Override
    protected Scaling.Params params() {
        return new Scaling.Params(0.1, 1.0);
    }

    @Override
    protected Object example() {
        return TestSeries.ramps(30, 30, 1);
    }

    @Test
    void multipliesEachChannelByOneFactorDrawnAroundOne() {
        SeriesExample series = TestSeries.ramps(30, 30, 1);
        Scaling scaling = new Scaling(new Scaling.Params(0.2, 1.0), TestContext.builder().build());
        Random random = new Random(8);
        double sum = 0;
        double squares = 0;
        int draws = 2000;
        for (int i = 0; i < draws; i++) {
            float[] out = scaling.apply(series, random).window();
            double first = out[1];
            double second = out[31] / -2.0;
            for (int t = 1; t < 30; t++) {
                assertEquals(first * t, out[t], 1e-4 * t, "channel 0 scaled by one factor");
                assertEquals(second * -2 * t, out[30 + t], 1e-4 * t, "channel 1 scaled by one factor");
            }
            sum += first + second;
            squares += first * first + second * second;
        }
        double mean = sum / (2 * draws);
        double sd = Math.sqrt(squares / (2 * draws) - mean * mean);
        assertEquals(1, mean, 0.02);
        assertEquals(0.2, sd, 0.015);
    }
}
