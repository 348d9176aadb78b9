package dev.modalign.plugins.evaluators;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import java.util.List;

/** The evaluator contract for the few-shot, on one tower of the kit's labelled embeddings. */
class FewShotEvaluatorContractTest extends AbstractEvaluatorContractTest<FewShotEvaluator.Params> {

    @Override
    protected ComponentFactory<FewShotEvaluator.Params, Evaluator> factory() {
        return EvaluatorsPlugin.FEW_SHOT;
    }

    @Override
    protected FewShotEvaluator.Params params() {
        return new FewShotEvaluator.Params(List.of(1, 3), 3, 0.5);
    }

    @Override
    protected List<String> towers() {
        return List.of("a");
    }
}
