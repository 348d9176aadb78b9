package dev.modalign.plugins.sbcl;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for SBCL over two towers with its defaults: before the first clustering. */
class SbclLossContractTest extends AbstractLossContractTest<SbclLoss.Params> {

    @Override
    protected ComponentFactory<SbclLoss.Params, Loss> factory() {
        return SbclPlugin.SBCL;
    }

    @Override
    protected SbclLoss.Params params() {
        return SbclLossTest.defaults();
    }
}
