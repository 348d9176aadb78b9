package dev.modalign.plugins.look;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/**
 * The loss contract for LOOK over a single tower, as in the paper (one view per sample): a batch of one has
 * no neighbour at all, and k = 1 makes most anchors fall back on their nearest class-mate.
 */
class LookLossOneTowerContractTest extends AbstractLossContractTest<LookLoss.Params> {

    @Override
    protected ComponentFactory<LookLoss.Params, Loss> factory() {
        return LookPlugin.LOOK;
    }

    @Override
    protected LookLoss.Params params() {
        return new LookLoss.Params(0.07, 1);
    }

    @Override
    protected List<String> towers() {
        return List.of("image");
    }
}
