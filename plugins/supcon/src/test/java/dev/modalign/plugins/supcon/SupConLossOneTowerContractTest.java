package dev.modalign.plugins.supcon;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/**
 * The loss contract for SupCon over a single tower, where the positives are other records of the
 * class only and a batch of one has no anchor with a positive.
 */
class SupConLossOneTowerContractTest extends AbstractLossContractTest<SupConLoss.Params> {

    @Override
    protected ComponentFactory<SupConLoss.Params, Loss> factory() {
        return SupConPlugin.SUPCON;
    }

    @Override
    protected SupConLoss.Params params() {
        return new SupConLoss.Params(0.1, null);
    }

    @Override
    protected List<String> towers() {
        return List.of("image");
    }
}
