package dev.modalign.plugins.filip;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import dev.modalign.testkit.FixedEvalContext;

/** The evaluator contract for filip-retrieval, with token features beside the kit's embeddings. */
class FilipRetrievalEvaluatorContractTest extends AbstractEvaluatorContractTest<FilipRetrievalEvaluator.Params> {

    @Override
    protected ComponentFactory<FilipRetrievalEvaluator.Params, Evaluator> factory() {
        return FilipPlugin.FILIP_RETRIEVAL;
    }

    @Override
    protected FilipRetrievalEvaluator.Params params() {
        return new FilipRetrievalEvaluator.Params(java.util.List.of(1, 5), 16);
    }

    @Override
    protected FixedEvalContext context(NDManager manager) {
        FixedEvalContext context = super.context(manager);
        Engine.getInstance().setRandomSeed(4);
        for (String tower : towers()) {
            NDArray embeddings = context.embeddings(tower);
            long n = embeddings.getShape().get(0);
            NDArray tokens = embeddings.expandDims(1).add(manager.randomNormal(new Shape(n, 3, 8)));
            context.tokens(tower, tokens, manager.ones(new Shape(n, 3)));
        }
        return context;
    }
}
