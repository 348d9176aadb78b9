package dev.modalign.plugins.tempnet;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for TempNet with the authors' defaults: rho 7, tau in [0.005, 0.05], 256 prototypes. */
class TempNetLossContractTest extends AbstractLossContractTest<TempNetLoss.Params> {

    @Override
    protected ComponentFactory<TempNetLoss.Params, Loss> factory() {
        return TempNetPlugin.TEMPNET;
    }

    @Override
    protected TempNetLoss.Params params() {
        return new TempNetLoss.Params(7.0, 0.005, 0.05, 256);
    }
}
