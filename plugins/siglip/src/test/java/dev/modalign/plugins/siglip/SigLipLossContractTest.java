package dev.modalign.plugins.siglip;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for SigLIP with the paper's learnable scale and bias. */
class SigLipLossContractTest extends AbstractLossContractTest<SigLipLoss.Params> {

    @Override
    protected ComponentFactory<SigLipLoss.Params, Loss> factory() {
        return SigLipPlugin.SIGLIP;
    }

    @Override
    protected SigLipLoss.Params params() {
        return new SigLipLoss.Params(0.1, -10, true);
    }
}
