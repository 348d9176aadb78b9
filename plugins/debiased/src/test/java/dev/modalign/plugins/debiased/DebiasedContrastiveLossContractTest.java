package dev.modalign.plugins.debiased;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for the debiased contrastive loss with the paper's temperature and class prior. */
class DebiasedContrastiveLossContractTest extends AbstractLossContractTest<DebiasedContrastiveLoss.Params> {

    @Override
    protected ComponentFactory<DebiasedContrastiveLoss.Params, Loss> factory() {
        return DebiasedPlugin.DEBIASED;
    }

    @Override
    protected DebiasedContrastiveLoss.Params params() {
        return new DebiasedContrastiveLoss.Params(0.5, 0.1);
    }
}
