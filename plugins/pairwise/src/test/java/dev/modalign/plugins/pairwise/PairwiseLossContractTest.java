package dev.modalign.plugins.pairwise;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;
import java.util.Map;

/** The loss contract for pairwise over three towers, with a learnable temperature and unequal pair weights. */
class PairwiseLossContractTest extends AbstractLossContractTest<PairwiseLoss.Params> {

    @Override
    protected ComponentFactory<PairwiseLoss.Params, Loss> factory() {
        return PairwisePlugin.PAIRWISE;
    }

    @Override
    protected PairwiseLoss.Params params() {
        return new PairwiseLoss.Params(0.07, true, 100, Map.of("a-c", 0.5), List.of());
    }

    @Override
    protected List<String> towers() {
        return List.of("a", "b", "c");
    }
}
