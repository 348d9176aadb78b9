package dev.modalign.plugins.modalitydropout;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.List;

/**
 * The loss contract for modality dropout over four towers with p = 1: every step keeps exactly two, and the
 * two dropped towers must still get finite (zero) gradients.
 */
class ModalityDropoutLossEveryDropContractTest extends AbstractLossContractTest<ModalityDropoutLoss.Params> {

    @Override
    protected ComponentFactory<ModalityDropoutLoss.Params, Loss> factory() {
        return ModalityDropoutPlugin.MODALITY_DROPOUT;
    }

    @Override
    protected ModalityDropoutLoss.Params params() {
        return new ModalityDropoutLoss.Params(1.0, 2, 0.1, false, 100);
    }

    @Override
    protected List<String> towers() {
        return List.of("a", "b", "c", "d");
    }
}
