package dev.modalign.plugins.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ImageExample;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RandomResizedCropTest extends AbstractAugmentationContractTest<RandomResizedCrop.Params> {

    @Override
    protected ComponentFactory<RandomResizedCrop.Params, Augmentation<?>> factory() {
        return ImagePlugin.RANDOM_RESIZED_CROP;
    }

    @Override
    protected RandomResizedCrop.Params params() {
        return new RandomResizedCrop.Params(List.of(0.5, 1.0), List.of(0.75, 4 / 3.0));
    }

    @Override
    protected Object example() {
        return TestImages.gradient(8, 8);
    }

    private static RandomResizedCrop crop(double scaleLow, double scaleHigh, double ratioLow, double ratioHigh) {
        return new RandomResizedCrop(new RandomResizedCrop.Params(List.of(scaleLow, scaleHigh), List.of(ratioLow, ratioHigh)),
                TestContext.builder().build());
    }

    @Test
    void outputHasTheInputsSizeAndValuesWithinItsRange() {
        for (ImageExample input : List.of(TestImages.gradient(8, 8), TestImages.gradient(6, 11))) {
            for (int seed = 0; seed < 20; seed++) {
                ImageExample out = crop(0.5, 1.0, 0.75, 4 / 3.0).apply(input, new Random(seed));
                assertEquals(input.channels(), out.channels());
                assertEquals(input.height(), out.height());
                assertEquals(input.width(), out.width());
                for (float value : out.pixels()) {
                    assertTrue(value >= 0 && value <= 1, "bilinear values stay within the input's range");
                }
            }
        }
    }

    @Test
    void theFullScaleWithRatioOneIsTheIdentity() {
        ImageExample out = crop(1.0, 1.0, 1.0, 1.0).apply(TestImages.gradient(8, 8), new Random(1));
        assertArrayEquals(TestImages.gradient(8, 8).pixels(), out.pixels(), 1e-6f);
    }

    @Test
    void aQuarterAreaCropMagnifiesHalfTheRamp() {
        // A square crop of a quarter of the area spans half the width: a ramp over [0, 1] becomes a
        // ramp over a window of width about one half, still increasing left to right.
        ImageExample ramp = TestImages.horizontalRamp(16, 16);
        for (int seed = 0; seed < 10; seed++) {
            ImageExample out = crop(0.25, 0.25, 1.0, 1.0).apply(ramp, new Random(seed));
            float first = out.pixels()[0];
            float last = out.pixels()[15];
            assertTrue(last - first > 0.35 && last - first < 0.55, "window " + first + " .. " + last);
            for (int x = 1; x < 16; x++) {
                assertTrue(out.pixels()[x] >= out.pixels()[x - 1], "the ramp should still increase");
            }
        }
    }

    @Test
    void invalidRangesNameTheirKey() {
        assertEquals("scale", assertThrows(InvalidParamException.class,
                () -> new RandomResizedCrop.Params(List.of(0.8, 0.5), List.of(0.75, 1.33))).key());
        assertEquals("scale", assertThrows(InvalidParamException.class,
                () -> new RandomResizedCrop.Params(List.of(0.5, 1.5), List.of(0.75, 1.33))).key());
        assertEquals("ratio", assertThrows(InvalidParamException.class,
                () -> new RandomResizedCrop.Params(List.of(0.5, 1.0), List.of(0.0, 1.33))).key());
        assertEquals("ratio", assertThrows(InvalidParamException.class,
                () -> new RandomResizedCrop.Params(List.of(0.5, 1.0), List.of(1.0))).key());
    }
}
