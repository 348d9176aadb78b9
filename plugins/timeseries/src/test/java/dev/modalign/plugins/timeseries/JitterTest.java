package dev.modalign.plugins.timeseries;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class JitterTest extends AbstractAugmentationContractTest<Jitter.Params> {

    @Override
    protected ComponentFactory<Jitter.Params, Augmentation<?>> factory() {
        return TimeseriesPlugin.JITTER;
    }

    @Override
    protected Jitter.Params params() {
        return new Jitter.Params(0.03, 1.0);
    }

    @Override
    protected Object example() {
        return TestSeries.ramps(50, 20, 1);
    }

    @Test
    void addsNoiseOfTheGivenDeviationToTheRealStepsOnly() {
        // A window of 40 over 25 steps: 15 steps of padding must stay zero.
        SeriesExample series = TestSeries.ramps(25, 40, 1);
        Jitter jitter = new Jitter(new Jitter.Params(0.5, 1.0), TestContext.builder().build());
        Random random = new Random(4);
        double sum = 0;
        double squares = 0;
        int count = 0;
        for (int i = 0; i < 400; i++) {
            SeriesExample out = jitter.apply(series, random);
            assertEquals(25, out.realLength());
            float[] before = series.window();
            float[] after = out.window();
            for (int c = 0; c < 2; c++) {
                for (int t = 0; t < 40; t++) {
                    double noise = after[c * 40 + t] - before[c * 40 + t];
                    if (t >= 25) {
                        assertEquals(0.0, after[c * 40 + t], 0.0, "padding at step " + t);
                    } else {
                        sum += noise;
                        squares += noise * noise;
                        count++;
                    }
                }
            }
        }
        double mean = sum / count;
        double sd = Math.sqrt(squares / count - mean * mean);
        // 20000 draws: the mean's standard error is 0.0035, the deviation's about 0.0025.
        assertEquals(0, mean, 0.02);
        assertEquals(0.5, sd, 0.015);
    }
}
