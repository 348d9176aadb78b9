package dev.modalign.plugins.retrieval;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Cross-modal retrieval between two towers: recall at k and mean reciprocal rank, both directions. */
public final class RetrievalPlugin implements Plugin {

    static final ComponentFactory<RetrievalEvaluator.Params, Evaluator> RETRIEVAL = ComponentFactory.of(
            "retrieval",
            "Cross-modal retrieval between two towers by cosine similarity, both directions: R@k, MRR and the"
                    + " R@1 of a random ranking",
            RetrievalEvaluator.Params.class,
            RetrievalEvaluator::new);

    @Override
    public String name() {
        return "retrieval";
    }

    @Override
    public String version() {
        return "0.1.0";
    }

    @Override
    public String apiVersion() {
        return ModalignApi.VERSION;
    }

    @Override
    public List<ComponentFactory<?, Evaluator>> evaluators() {
        return List.of(RETRIEVAL);
    }
}
