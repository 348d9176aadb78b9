package dev.modalign.plugins.amcl;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for AMCL with five heads narrower than the towers and a strong temperature regulariser. */
class AmclLossNarrowHeadsContractTest extends AbstractLossContractTest<AmclLoss.Params> {

    @Override
    protected ComponentFactory<AmclLoss.Params, Loss> factory() {
        return AmclPlugin.AMCL;
    }

    @Override
    protected AmclLoss.Params params() {
        return new AmclLoss.Params(5, 4, 0.2, 100, 1.0);
    }
}
