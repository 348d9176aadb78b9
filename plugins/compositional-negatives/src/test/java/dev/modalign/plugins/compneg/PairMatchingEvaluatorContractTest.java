package dev.modalign.plugins.compneg;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import dev.modalign.testkit.FixedEvalContext;
import java.util.ArrayList;
import java.util.List;

/** The evaluator contract: the test kit's 40 paired rows, with made-up captions and an order-aware test encoder. */
class PairMatchingEvaluatorContractTest extends AbstractEvaluatorContractTest<PairMatchingEvaluator.Params> {

    @Override
    protected ComponentFactory<PairMatchingEvaluator.Params, Evaluator> factory() {
        return CompositionalNegativesPlugin.PAIR_MATCHING;
    }

    @Override
    protected PairMatchingEvaluator.Params params() {
        return new PairMatchingEvaluator.Params(List.of("swap-words", "shuffle-words", "swap-phrases", "replace-word"),
                15);
    }

    @Override
    protected FixedEvalContext context(NDManager manager) {
        List<String> captions = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            captions.add("a thing" + i + " on a thing" + (i + 1) % 40);
        }
        return super.context(manager).raw(towers().get(1), captions)
                .encoder((tower, values) -> WordHashEncoder.encode(manager, values, 8, true));
    }
}
