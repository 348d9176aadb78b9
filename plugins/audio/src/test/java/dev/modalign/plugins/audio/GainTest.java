package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GainTest extends AbstractAugmentationContractTest<Gain.Params> {

    @Override
    protected ComponentFactory<Gain.Params, Augmentation<?>> factory() {
        return AudioPlugin.GAIN;
    }

    @Override
    protected Gain.Params params() {
        return new Gain.Params(-6, 6, 1.0);
    }

    @Override
    protected Object example() {
        return RandomSegmentTest.longClip();
    }

    @Test
    void scalesByAFactorWithinTheRangeAndMovesTheLogMelByItsSquare() {
        AudioExample clip = RandomSegmentTest.longClip();
        Gain gain = new Gain(new Gain.Params(-6, 6, 1.0), TestContext.builder().build());
        double lowest = Double.MAX_VALUE;
        double highest = 0;
        for (int seed = 0; seed < 50; seed++) {
            AudioExample out = gain.apply(clip, new Random(seed));
            double factor = out.clip()[1234] / clip.clip()[1234];
            for (int i = 0; i < clip.clip().length; i += 101) {
                assertEquals(clip.clip()[i] * factor, out.clip()[i], 1e-5, "one factor for every sample");
            }
            lowest = Math.min(lowest, factor);
            highest = Math.max(highest, factor);
            // Where the band's energy is far above the 1e-6 floor, log(g^2 P + eps) = log P + 2 log g.
            int frames = clip.frames();
            for (int m = 0; m < clip.melBands(); m++) {
                for (int t = 5; t < 95; t += 10) {
                    float before = clip.features()[m * frames + t];
                    if (before > -5) {
                        assertEquals(before + 2 * Math.log(factor), out.features()[m * frames + t], 1e-3,
                                "band " + m + " frame " + t);
                    }
                }
            }
        }
        assertTrue(lowest >= Math.pow(10, -6 / 20.0) - 1e-6 && highest <= Math.pow(10, 6 / 20.0) + 1e-6,
                "factors " + lowest + ".." + highest);
        assertTrue(lowest < 0.7 && highest > 1.4, "50 draws should span most of -6..6 dB: " + lowest + ".." + highest);
    }

    @Test
    void refusesAnEmptyRange() {
        assertEquals("min_db", assertThrows(InvalidParamException.class, () -> new Gain.Params(3, -3, 1.0)).key());
    }
}
