package dev.modalign.plugins.c3;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for c3 with its defaults: batch centring and the paper's noise. */
class C3LossContractTest extends AbstractLossContractTest<C3Loss.Params> {

    @Override
    protected ComponentFactory<C3Loss.Params, Loss> factory() {
        return C3Plugin.C3;
    }

    @Override
    protected C3Loss.Params params() {
        return new C3Loss.Params(0.07, 0.1265, C3Loss.Centring.BATCH, 0.99);
    }
}
