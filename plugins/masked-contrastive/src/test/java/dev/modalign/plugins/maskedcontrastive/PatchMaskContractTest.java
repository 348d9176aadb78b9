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
        return new PatchMask.Params(2, 0.5, -1.0);
    }

    @Override
    protected Object example() {
        float[] pixels = new float[3 * 8 * 8];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (i % 17) / 16f;
        }
        return new ImageExample(pixels, 3, 8, 8);
    }
}
