package dev.modalign.plugins.amcl;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for AMCL with its defaults: three heads of the towers' width, each with a learned temperature. */
class AmclLossContractTest extends AbstractLossContractTest<AmclLoss.Params> {

    @Override
    protected ComponentFactory<AmclLoss.Params, Loss> factory() {
        return AmclPlugin.AMCL;
    }

    @Override
    protected AmclLoss.Params params() {
        return new AmclLoss.Params(3, null, 0.07, 100, 0.01);
    }
}
