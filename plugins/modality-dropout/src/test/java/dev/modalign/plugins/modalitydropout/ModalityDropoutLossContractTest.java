package dev.modalign.plugins.modalitydropout;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/** The loss contract for modality dropout over three towers, one of which may be dropped at a step. */
class ModalityDropoutLossContractTest extends AbstractLossContractTest<ModalityDropoutLoss.Params> {

    @Override
    protected ComponentFactory<ModalityDropoutLoss.Params, Loss> factory() {
        return ModalityDropoutPlugin.MODALITY_DROPOUT;
    }

    @Override
    protected ModalityDropoutLoss.Params params() {
        return new ModalityDropoutLoss.Params(0.5, 2, 0.07, true, 100);
    }

    @Override
    protected List<String> towers() {
        return List.of("image", "audio", "text");
    }
}
