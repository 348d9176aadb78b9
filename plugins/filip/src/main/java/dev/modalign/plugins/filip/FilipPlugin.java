package dev.modalign.plugins.filip;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** FILIP: token-wise late interaction, as a contrastive loss and as a retrieval evaluator. */
public final class FilipPlugin implements Plugin {

    static final ComponentFactory<FilipLoss.Params, Loss> FILIP = ComponentFactory.of(
            "filip",
            "Contrastive loss on token-wise late interaction: each token's best match on the other side, averaged"
                    + " (Yao et al., FILIP: Fine-grained Interactive Language-Image Pre-Training, ICLR 2022)",
            FilipLoss.Params.class,
            FilipLoss::new);

    static final ComponentFactory<FilipRetrievalEvaluator.Params, Evaluator> FILIP_RETRIEVAL = ComponentFactory.of(
            "filip-retrieval",
            "Cross-modal retrieval R@k and MRR, both directions, ranked by FILIP's token-wise similarity (Yao et al.,"
                    + " FILIP: Fine-grained Interactive Language-Image Pre-Training, ICLR 2022)",
            FilipRetrievalEvaluator.Params.class,
            FilipRetrievalEvaluator::new);

    @Override
    public String name() {
        return "filip";
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
    public List<ComponentFactory<?, Loss>> losses() {
        return List.of(FILIP);
    }

    @Override
    public List<ComponentFactory<?, Evaluator>> evaluators() {
        return List.of(FILIP_RETRIEVAL);
    }
}
