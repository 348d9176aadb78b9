package dev.modalign.plugins.moco;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for moco with a query tower and a key tower, and an empty queue. */
class MocoLossContractTest extends AbstractLossContractTest<MocoLoss.Params> {

    @Override
    protected ComponentFactory<MocoLoss.Params, Loss> factory() {
        return MocoPlugin.MOCO;
    }

    @Override
    protected MocoLoss.Params params() {
        return new MocoLoss.Params(0.07, 32, true);
    }
}
