package dev.modalign.plugins.threetowers;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/** The loss contract for Three Towers. */
class ThreeTowersLossContractTest extends AbstractLossContractTest<ThreeTowersLoss.Params> {

    @Override
    protected ComponentFactory<ThreeTowersLoss.Params, Loss> factory() {
        return ThreeTowersPlugin.THREE_TOWERS;
    }

    @Override
    protected ThreeTowersLoss.Params params() {
        return new ThreeTowersLoss.Params(0.07, 0, 100);
    }

    @Override
    protected List<String> towers() {
        return List.of("image", "text", "pretrained");
    }
}
