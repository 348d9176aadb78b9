package dev.modalign.plugins.c3;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for c3 with a running mean, kept in afterStep. */
class C3LossRunningMeanContractTest extends AbstractLossContractTest<C3Loss.Params> {

    @Override
    protected ComponentFactory<C3Loss.Params, Loss> factory() {
        return C3Plugin.C3;
    }

    @Override
    protected C3Loss.Params params() {
        return new C3Loss.Params(0.05, 0.2, C3Loss.Centring.RUNNING, 0.9);
    }
}
