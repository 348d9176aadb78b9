package dev.modalign.plugins.dexml;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/**
 * The loss contract for DEXML with positives by class label (the test kit's labels 0..3 repeat, so every
 * query has several positives), a fixed temperature and queries from the first tower only.
 */
class DexmlLossLabelContractTest extends AbstractLossContractTest<DexmlLoss.Params> {

    @Override
    protected ComponentFactory<DexmlLoss.Params, Loss> factory() {
        return DexmlPlugin.DEXML;
    }

    @Override
    protected DexmlLoss.Params params() {
        return new DexmlLoss.Params(0.05, false, 100, DexmlLoss.Positives.LABEL, false);
    }
}
