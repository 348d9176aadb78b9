package dev.modalign.plugins.modalitystructure;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/** The loss contract for brownian-bridge: three towers: two end points and the intermediate one. */
class BrownianBridgeLossContractTest extends AbstractLossContractTest<BrownianBridgeLoss.Params> {

    @Override
    protected ComponentFactory<BrownianBridgeLoss.Params, Loss> factory() {
        return ModalityStructurePlugin.BROWNIAN_BRIDGE;
    }

    @Override
    protected BrownianBridgeLoss.Params params() {
        return new BrownianBridgeLoss.Params(0.05);
    }

    @Override
    protected List<String> towers() {
        return List.of("a", "b", "c");
    }
}
