package dev.modalign.plugins.supcon;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for SupCon over two towers, with the test kit's labels 0..3 repeating. */
class SupConLossContractTest extends AbstractLossContractTest<SupConLoss.Params> {

    @Override
    protected ComponentFactory<SupConLoss.Params, Loss> factory() {
        return SupConPlugin.SUPCON;
    }

    @Override
    protected SupConLoss.Params params() {
        return new SupConLoss.Params(0.1, 0.07);
    }
}
