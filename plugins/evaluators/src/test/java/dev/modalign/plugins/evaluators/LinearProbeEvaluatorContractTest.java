package dev.modalign.plugins.evaluators;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import java.util.List;

/** The evaluator contract for the linear probe, on one tower of the kit's labelled embeddings. */
class LinearProbeEvaluatorContractTest extends AbstractEvaluatorContractTest<LinearProbeEvaluator.Params> {

    @Override
    protected ComponentFactory<LinearProbeEvaluator.Params, Evaluator> factory() {
        return EvaluatorsPlugin.LINEAR_PROBE;
    }

    @Override
    protected LinearProbeEvaluator.Params params() {
        return new LinearProbeEvaluator.Params(0.5, List.of(1e-3, 1e-1), 0.25);
    }

    @Override
    protected List<String> towers() {
        return List.of("a");
    }
}
