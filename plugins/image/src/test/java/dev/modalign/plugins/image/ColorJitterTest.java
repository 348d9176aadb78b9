package dev.modalign.plugins.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ImageExample;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ColorJitterTest extends AbstractAugmentationContractTest<ColorJitter.Params> {

    @Override
    protected ComponentFactory<ColorJitter.Params, Augmentation<?>> factory() {
        return ImagePlugin.COLOR_JITTER;
    }

    @Override
    protected ColorJitter.Params params() {
        return new ColorJitter.Params(0.4, 0.8);
    }

    @Override
    protected Object example() {
        return TestImages.gradient(8, 8);
    }

    private static ColorJitter jitter(double strength, double p) {
        return new ColorJitter(new ColorJitter.Params(strength, p), TestContext.builder().build());
    }

    @Test
    void strengthZeroChangesNothingAndValuesStayInRange() {
        ImageExample image = TestImages.gradient(8, 8);
        assertArrayEquals(image.pixels(), jitter(0.0, 1.0).apply(image, new Random(2)).pixels(), 1e-6f);
        for (int seed = 0; seed < 50; seed++) {
            for (float value : jitter(0.9, 1.0).apply(image, new Random(seed)).pixels()) {
                assertTrue(value >= 0 && value <= 1, "jittered value " + value + " outside [0, 1]");
            }
        }
    }

    @Test
    void aFlatGreyImageOnlyChangesBrightnessWithinTheStrength() {
        // Contrast blends with the image's mean and saturation with each pixel's grey: neither moves
        // a flat grey image, so only the brightness factor in [0.6, 1.4] remains.
        for (ImageExample image : new ImageExample[] {TestImages.uniform(4, 4, 0.5f),
                TestImages.uniform(4, 4, 0.5f, 0.5f, 0.5f)}) {
            boolean changed = false;
            for (int seed = 0; seed < 30; seed++) {
                float[] out = jitter(0.4, 1.0).apply(image, new Random(seed)).pixels();
                for (float value : out) {
                    assertEquals(out[0], value, 1e-6f, "the image should stay flat and grey");
                }
                assertTrue(out[0] >= 0.5f * 0.6f - 1e-6f && out[0] <= 0.5f * 1.4f + 1e-6f, "brightness " + out[0]);
                changed |= Math.abs(out[0] - 0.5f) > 1e-3f;
            }
            assertTrue(changed, "brightness never changed over 30 seeds");
        }
    }

    @Test
    void colourChangesSaturationOfAColouredImage() {
        // A flat colour: brightness scales all channels alike, contrast has no effect, so any change
        // in the ratio between channels comes from saturation.
        ImageExample image = TestImages.uniform(2, 2, 0.6f, 0.3f, 0.2f);
        boolean ratioChanged = false;
        for (int seed = 0; seed < 30 && !ratioChanged; seed++) {
            float[] out = jitter(0.4, 1.0).apply(image, new Random(seed)).pixels();
            ratioChanged = Math.abs(out[4] / out[0] - 0.5f) > 1e-3f;
        }
        assertTrue(ratioChanged, "saturation never changed the colour over 30 seeds");
    }

    @Test
    void jittersAboutPOfTheTime() {
        ImageExample image = TestImages.gradient(4, 4);
        Random random = new Random(5);
        int jittered = 0;
        for (int trial = 0; trial < 1000; trial++) {
            jittered += jitter(0.4, 0.8).apply(image, random) == image ? 0 : 1;
        }
        // Binomial(1000, 0.8): mean 800, standard deviation 12.6; 5 standard deviations either side.
        assertEquals(800, jittered, 63);
    }
}
