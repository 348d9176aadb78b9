package dev.modalign.plugins.siglip;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for SigLIP with a fixed scale and bias: no parameter, constants made per step. */
class SigLipLossFixedContractTest extends AbstractLossContractTest<SigLipLoss.Params> {

    @Override
    protected ComponentFactory<SigLipLoss.Params, Loss> factory() {
        return SigLipPlugin.SIGLIP;
    }

    @Override
    protected SigLipLoss.Params params() {
        return new SigLipLoss.Params(0.05, -5, false);
    }
}
