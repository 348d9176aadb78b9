package dev.modalign.plugins.clip;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for CLIP with a fixed temperature: no parameter, a constant scale per step. */
class ClipLossFixedTemperatureContractTest extends AbstractLossContractTest<ClipLoss.Params> {

    @Override
    protected ComponentFactory<ClipLoss.Params, Loss> factory() {
        return ClipPlugin.CLIP;
    }

    @Override
    protected ClipLoss.Params params() {
        return new ClipLoss.Params(0.05, false, 100);
    }
}
