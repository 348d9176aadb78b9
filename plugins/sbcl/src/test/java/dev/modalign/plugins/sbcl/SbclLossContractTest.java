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

    /** A memory of 16 records re-clustered every 2 steps into subclasses of 2: a checkpoint after 4 steps holds them. */
    @Override
    protected SbclLoss.Params checkpointParams() {
        return new SbclLoss.Params(0.1, null, 0.1, true, 0.25, 2, 1, 16, 2, 20, 3);
    }
}
