package dev.modalign.plugins.retrieval;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The evaluator contract, with blocks smaller than the test kit's 40 records. */
class RetrievalEvaluatorContractTest extends AbstractEvaluatorContractTest<RetrievalEvaluator.Params> {

    @Override
    protected ComponentFactory<RetrievalEvaluator.Params, Evaluator> factory() {
        return RetrievalPlugin.RETRIEVAL;
    }

    @Override
    protected RetrievalEvaluator.Params params() {
        return new RetrievalEvaluator.Params(List.of(1, 5, 10), 16);
    }

    @Test
    void metricsAreFractionsAndPairedEmbeddingsBeatChance() {
        try (NDManager manager = NDManager.newBaseManager()) {
            EvalResult result = factory().create(params(), TestContext.builder().optTowers(towers(), 8).build())
                    .evaluate(context(manager));
            for (Map.Entry<String, Double> metric : result.metrics().entrySet()) {
                assertTrue(metric.getValue() >= 0 && metric.getValue() <= 1, metric.getKey() + " = " + metric.getValue());
            }
            // The kit's towers are one base plus small noise: far better than 1 in 40 by chance.
            assertTrue(result.metrics().get("a_to_b/R_at_1") > 5 * result.metrics().get("a_to_b/chance_R_at_1"),
                    result.metrics().toString());
        }
    }
}
