package dev.modalign.plugins.cmd;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/** The loss contract for cmd with its defaults, two towers and their momentum copies, and empty queues. */
class CmdLossContractTest extends AbstractLossContractTest<CmdLoss.Params> {

    @Override
    protected ComponentFactory<CmdLoss.Params, Loss> factory() {
        return CmdPlugin.CMD;
    }

    @Override
    protected CmdLoss.Params params() {
        return new CmdLoss.Params(0.07, 0.1, 0.05, 1.0, 32, CmdLoss.Neighbours.SAME_MODALITY, true);
    }

    @Override
    protected List<String> towers() {
        return List.of("image", "text", "image_m", "text_m");
    }
}
