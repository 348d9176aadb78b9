package dev.modalign.plugins.maskedcontrastive;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ImageExample;
import dev.modalign.testkit.AbstractAugmentationContractTest;

class PatchMaskContractTest extends AbstractAugmentationContractTest<PatchMask.Params> {

    @Override
    protected ComponentFactory<PatchMask.Params, Augmentation<?>> factory() {
        return MaskedContrastivePlugin.PATCH_MASK;
    }

    @Override
    protected PatchMask.Params params() {
        return new PatchMask.Params(2, 0.5, -1.0, 1.0);
    }

    @Override
    protected Object example() {
        float[] pixels = new float[3 * 8 * 8];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (i % 17) / 16f;
        }
        return new ImageExample(pixels, 3, 8, 8);
    }

    /** With p = 0 no image is masked; with p = 1 every one is. */
    @org.junit.jupiter.api.Test
    void pIsTheProbabilityOfMaskingAnImage() {
        ImageExample image = (ImageExample) example();
        PatchMask never = new PatchMask(new PatchMask.Params(2, 0.5, -1.0, 0.0),
                dev.modalign.testkit.TestContext.builder().build());
        PatchMask always = new PatchMask(new PatchMask.Params(2, 0.5, -1.0, 1.0),
                dev.modalign.testkit.TestContext.builder().build());
        for (int seed = 0; seed < 10; seed++) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(image.pixels(),
                    never.apply(image, new java.util.Random(seed)).pixels());
            long filled = 0;
            for (float value : always.apply(image, new java.util.Random(seed)).pixels()) {
                filled += value == -1f ? 1 : 0;
            }
            org.junit.jupiter.api.Assertions.assertEquals(3 * 8 * 8 / 2, filled, "half the 16 patches, every channel");
        }
    }
}
