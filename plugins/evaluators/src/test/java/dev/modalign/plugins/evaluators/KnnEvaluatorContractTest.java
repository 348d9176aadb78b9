package dev.modalign.plugins.evaluators;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import java.util.List;

/** The evaluator contract for the k-NN, on one tower of the kit's labelled embeddings. */
class KnnEvaluatorContractTest extends AbstractEvaluatorContractTest<KnnEvaluator.Params> {

    @Override
    protected ComponentFactory<KnnEvaluator.Params, Evaluator> factory() {
        return EvaluatorsPlugin.KNN;
    }

    @Override
    protected KnnEvaluator.Params params() {
        return new KnnEvaluator.Params(5, 0.07, 0.5);
    }

    @Override
    protected List<String> towers() {
        return List.of("a");
    }
}
