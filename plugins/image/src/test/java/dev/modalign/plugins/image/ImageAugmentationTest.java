package dev.modalign.plugins.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ImageExample;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class ImageAugmentationTest {

    /** A 3-channel 8x8 gradient, distinct everywhere. */
    static ImageExample gradient() {
        float[] pixels = new float[3 * 64];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (i % 64) / 64f * (1 + i / 64) / 3f;
        }
        return new ImageExample(pixels, 3, 8, 8);
    }

    @SuppressWarnings("unchecked")
    static <P extends Record> ComponentFactory<P, Augmentation<?>> factory(String name) {
        return (ComponentFactory<P, Augmentation<?>>) new ImagePlugin().augmentations().stream()
                .filter(f -> f.name().equals(name)).findFirst().orElseThrow();
    }

    @Nested
    class Crop extends AbstractAugmentationContractTest<RandomResizedCrop.Params> {
        @Override
        protected ComponentFactory<RandomResizedCrop.Params, Augmentation<?>> factory() {
            return ImageAugmentationTest.factory("random-resized-crop");
        }

        @Override
        protected RandomResizedCrop.Params params() {
            return new RandomResizedCrop.Params(List.of(0.3, 0.8), List.of(0.75, 1.333));
        }

        @Override
        protected Object example() {
            return gradient();
        }

        @Test
        void outputHasTheInputsSizeAndValuesFromIt() {
            ImageExample out = new RandomResizedCrop(params()).apply(gradient(), new Random(4));
            assertEquals(8, out.width());
            assertEquals(8, out.height());
            for (float value : out.pixels()) {
                assertTrue(value >= 0 && value <= 1, "bilinear values stay within the input's range");
            }
        }

        @Test
        void theFullScaleWithRatioOneIsTheIdentity() {
            ImageExample out = new RandomResizedCrop(new RandomResizedCrop.Params(List.of(1.0, 1.0), List.of(1.0, 1.0)))
                    .apply(gradient(), new Random(1));
            assertArrayEquals(gradient().pixels(), out.pixels(), 1e-6f);
        }
    }

    @Nested
    class Flip extends AbstractAugmentationContractTest<HorizontalFlip.Params> {
        @Override
        protected ComponentFactory<HorizontalFlip.Params, Augmentation<?>> factory() {
            return ImageAugmentationTest.factory("horizontal-flip");
        }

        @Override
        protected HorizontalFlip.Params params() {
            return new HorizontalFlip.Params(0.5);
        }

        @Override
        protected Object example() {
            return gradient();
        }

        @Test
        void flippingTwiceIsTheIdentityAndOnceMirrors() {
            ImageExample once = HorizontalFlip.flip(gradient());
            assertEquals(gradient().pixels()[7], once.pixels()[0]);
            assertEquals(gradient().pixels()[64 + 8], once.pixels()[64 + 15]);
            assertArrayEquals(gradient().pixels(), HorizontalFlip.flip(once).pixels());
        }
    }

    @Nested
    class Jitter extends AbstractAugmentationContractTest<ColorJitter.Params> {
        @Override
        protected ComponentFactory<ColorJitter.Params, Augmentation<?>> factory() {
            return ImageAugmentationTest.factory("color-jitter");
        }

        @Override
        protected ColorJitter.Params params() {
            return new ColorJitter.Params(0.4, 1.0);
        }

        @Override
        protected Object example() {
            return gradient();
        }

        @Test
        void strengthZeroChangesNothingAndValuesStayInRange() {
            assertArrayEquals(gradient().pixels(),
                    new ColorJitter(new ColorJitter.Params(0.0, 1.0)).apply(gradient(), new Random(2)).pixels(), 1e-6f);
            for (int seed = 0; seed < 20; seed++) {
                for (float value : new ColorJitter(params()).apply(gradient(), new Random(seed)).pixels()) {
                    assertTrue(value >= 0 && value <= 1);
                }
            }
        }
    }
}
