package dev.modalign.plugins.modalitystructure;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for deep-feature-separation: pooled embeddings (the test kit's batch has no tokens) and a learned head per tower. */
class DeepFeatureSeparationLossContractTest extends AbstractLossContractTest<DeepFeatureSeparationLoss.Params> {

    @Override
    protected ComponentFactory<DeepFeatureSeparationLoss.Params, Loss> factory() {
        return ModalityStructurePlugin.DEEP_FEATURE_SEPARATION;
    }

    @Override
    protected DeepFeatureSeparationLoss.Params params() {
        return new DeepFeatureSeparationLoss.Params(true);
    }
}
