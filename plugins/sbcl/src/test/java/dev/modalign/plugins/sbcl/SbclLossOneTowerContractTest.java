package dev.modalign.plugins.sbcl;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/**
 * The loss contract for SBCL over a single tower, where a record has no other view: a batch of one has
 * no anchor with a positive at either level.
 */
class SbclLossOneTowerContractTest extends AbstractLossContractTest<SbclLoss.Params> {

    @Override
    protected ComponentFactory<SbclLoss.Params, Loss> factory() {
        return SbclPlugin.SBCL;
    }

    @Override
    protected SbclLoss.Params params() {
        return SbclLossTest.defaults();
    }

    @Override
    protected List<String> towers() {
        return List.of("image");
    }
}
