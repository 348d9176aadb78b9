package dev.modalign.plugins.look;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for LOOK over two towers, with the test kit's labels 0..3 repeating. */
class LookLossContractTest extends AbstractLossContractTest<LookLoss.Params> {

    @Override
    protected ComponentFactory<LookLoss.Params, Loss> factory() {
        return LookPlugin.LOOK;
    }

    @Override
    protected LookLoss.Params params() {
        return new LookLoss.Params(0.1, 3);
    }
}
