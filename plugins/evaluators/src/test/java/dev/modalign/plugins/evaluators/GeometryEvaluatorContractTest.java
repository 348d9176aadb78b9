package dev.modalign.plugins.evaluators;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import java.util.List;

/** The evaluator contract for the geometry of two towers, its projection plot included. */
class GeometryEvaluatorContractTest extends AbstractEvaluatorContractTest<GeometryEvaluator.Params> {

    @Override
    protected ComponentFactory<GeometryEvaluator.Params, Evaluator> factory() {
        return EvaluatorsPlugin.GEOMETRY;
    }

    @Override
    protected GeometryEvaluator.Params params() {
        return new GeometryEvaluator.Params(0.5, List.of(1e-3, 1e-1), true, 30);
    }
}
