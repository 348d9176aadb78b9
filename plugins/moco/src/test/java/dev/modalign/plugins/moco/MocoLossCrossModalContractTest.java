package dev.modalign.plugins.moco;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/**
 * The loss contract for moco across two towers and their two key towers. With an empty queue (as here) the
 * positive-and-queue form (in_batch: false) has no negative and no gradient, rightly; the reference cases cover it.
 */
class MocoLossCrossModalContractTest extends AbstractLossContractTest<MocoLoss.Params> {

    @Override
    protected ComponentFactory<MocoLoss.Params, Loss> factory() {
        return MocoPlugin.MOCO;
    }

    @Override
    protected MocoLoss.Params params() {
        return new MocoLoss.Params(0.2, 16, true);
    }

    @Override
    protected List<String> towers() {
        return List.of("image", "text", "image_m", "text_m");
    }
}
