package dev.modalign.plugins.modalitydropout;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import java.util.List;

/** The evaluator contract for missing-modality over three towers with labels. */
class MissingModalityEvaluatorContractTest extends AbstractEvaluatorContractTest<MissingModalityEvaluator.Params> {

    @Override
    protected ComponentFactory<MissingModalityEvaluator.Params, Evaluator> factory() {
        return ModalityDropoutPlugin.MISSING_MODALITY;
    }

    @Override
    protected MissingModalityEvaluator.Params params() {
        return new MissingModalityEvaluator.Params(List.of(1, 5), 3, 16);
    }

    @Override
    protected List<String> towers() {
        return List.of("image", "audio", "text");
    }
}
