package dev.modalign.plugins.oneencoder;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import java.util.List;

class EmergentRetrievalEvaluatorContractTest extends AbstractEvaluatorContractTest<EmergentRetrievalEvaluator.Params> {

    @Override
    protected ComponentFactory<EmergentRetrievalEvaluator.Params, Evaluator> factory() {
        return OneEncoderPlugin.EMERGENT_RETRIEVAL;
    }

    @Override
    protected EmergentRetrievalEvaluator.Params params() {
        return new EmergentRetrievalEvaluator.Params(List.of("b"), List.of(1, 5));
    }

    @Override
    protected List<String> towers() {
        return List.of("a", "b", "c");
    }
}
