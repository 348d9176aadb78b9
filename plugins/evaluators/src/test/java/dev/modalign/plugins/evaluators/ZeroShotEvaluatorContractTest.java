package dev.modalign.plugins.evaluators;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import dev.modalign.testkit.FixedEvalContext;
import java.util.List;

/** The evaluator contract for zero-shot, whose prompts are "encoded" by a fixed function of the text. */
class ZeroShotEvaluatorContractTest extends AbstractEvaluatorContractTest<ZeroShotEvaluator.Params> {

    @Override
    protected ComponentFactory<ZeroShotEvaluator.Params, Evaluator> factory() {
        return EvaluatorsPlugin.ZERO_SHOT;
    }

    @Override
    protected ZeroShotEvaluator.Params params() {
        return new ZeroShotEvaluator.Params(List.of("zero", "one", "two", "three"), null, List.of("a {}", "the {}"));
    }

    @Override
    protected FixedEvalContext context(NDManager manager) {
        return super.context(manager).encoder((tower, values) -> {
            float[][] rows = new float[values.size()][8];
            for (int i = 0; i < rows.length; i++) {
                int hash = values.get(i).hashCode();
                for (int j = 0; j < 8; j++) {
                    rows[i][j] = ((hash >>> (4 * j)) & 15) - 7.5f;
                }
            }
            return manager.create(rows);
        });
    }
}
