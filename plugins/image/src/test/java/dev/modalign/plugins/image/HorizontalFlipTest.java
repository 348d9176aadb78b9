package dev.modalign.plugins.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ImageExample;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class HorizontalFlipTest extends AbstractAugmentationContractTest<HorizontalFlip.Params> {

    @Override
    protected ComponentFactory<HorizontalFlip.Params, Augmentation<?>> factory() {
        return ImagePlugin.HORIZONTAL_FLIP;
    }

    @Override
    protected HorizontalFlip.Params params() {
        return new HorizontalFlip.Params(0.5);
    }

    @Override
    protected Object example() {
        return TestImages.gradient(8, 8);
    }

    private static HorizontalFlip flip(double p) {
        return new HorizontalFlip(new HorizontalFlip.Params(p), TestContext.builder().build());
    }

    @Test
    void flippingTwiceIsTheIdentityAndOnceMirrorsEachRow() {
        ImageExample image = TestImages.gradient(5, 7);
        ImageExample once = flip(1.0).apply(image, new Random(1));
        int plane = 35;
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 5; y++) {
                for (int x = 0; x < 7; x++) {
                    assertEquals(image.pixels()[c * plane + y * 7 + (6 - x)], once.pixels()[c * plane + y * 7 + x]);
                }
            }
        }
        assertArrayEquals(image.pixels(), flip(1.0).apply(once, new Random(2)).pixels());
    }

    @Test
    void flipsAboutPOfTheTime() {
        ImageExample image = TestImages.gradient(4, 4);
        int flipped = 0;
        Random random = new Random(11);
        for (int trial = 0; trial < 1000; trial++) {
            flipped += flip(0.3).apply(image, random) == image ? 0 : 1;
        }
        // Binomial(1000, 0.3): mean 300, standard deviation 14.5; 5 standard deviations either side.
        assertEquals(300, flipped, 72);
        assertSame(image, flip(0.0).apply(image, new Random(3)));
    }
}
