package dev.modalign.plugins.oneencoder;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/** The loss contract for a new tower against two frozen anchors, a learned temperature. */
class AnchoredAlignmentLossContractTest extends AbstractLossContractTest<AnchoredAlignmentLoss.Params> {

    @Override
    protected ComponentFactory<AnchoredAlignmentLoss.Params, Loss> factory() {
        return OneEncoderPlugin.LOSS;
    }

    @Override
    protected AnchoredAlignmentLoss.Params params() {
        return new AnchoredAlignmentLoss.Params(List.of(1.0, 0.5), 0.07, true, 100, true);
    }

    @Override
    protected List<String> towers() {
        return List.of("audio", "text", "image");
    }
}
