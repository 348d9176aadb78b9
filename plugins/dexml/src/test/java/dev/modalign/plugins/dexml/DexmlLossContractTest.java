package dev.modalign.plugins.dexml;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/**
 * The loss contract for DEXML with its defaults: positives by group id and a learned temperature. The test
 * kit's batches carry no group ids, so each row is its own item.
 */
class DexmlLossContractTest extends AbstractLossContractTest<DexmlLoss.Params> {

    @Override
    protected ComponentFactory<DexmlLoss.Params, Loss> factory() {
        return DexmlPlugin.DEXML;
    }

    @Override
    protected DexmlLoss.Params params() {
        return new DexmlLoss.Params(0.07, true, 100, DexmlLoss.Positives.GROUP, true);
    }
}
