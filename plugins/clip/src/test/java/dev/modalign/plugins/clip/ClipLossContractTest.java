package dev.modalign.plugins.clip;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for CLIP with its default, learnable temperature. */
class ClipLossContractTest extends AbstractLossContractTest<ClipLoss.Params> {

    @Override
    protected ComponentFactory<ClipLoss.Params, Loss> factory() {
        return ClipPlugin.CLIP;
    }

    @Override
    protected ClipLoss.Params params() {
        return new ClipLoss.Params(0.07, true, 100);
    }
}
