package dev.modalign.plugins.modalitydropout;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/**
 * Multi-modal generalisation: train N towers with whole modalities dropped at random, and measure what is
 * lost when a modality is missing at test time.
 */
public final class ModalityDropoutPlugin implements Plugin {

    static final ComponentFactory<ModalityDropoutLoss.Params, Loss> MODALITY_DROPOUT = ComponentFactory.of(
            "modality-dropout",
            "Pairwise InfoNCE over the towers kept at each step, whole towers dropped at random during training (Gong"
                    + " et al., MMG-Ego4D: Multi-Modal Generalization in Egocentric Action Recognition, CVPR 2023)",
            ModalityDropoutLoss.Params.class,
            ModalityDropoutLoss::new);

    static final ComponentFactory<MissingModalityEvaluator.Params, Evaluator> MISSING_MODALITY = ComponentFactory.of(
            "missing-modality",
            "Retrieval and kNN classification from the fused embeddings of N towers, with all towers and with each one"
                    + " missing, and the drop (Gong et al., MMG-Ego4D: Multi-Modal Generalization in Egocentric Action"
                    + " Recognition, CVPR 2023)",
            MissingModalityEvaluator.Params.class,
            MissingModalityEvaluator::new);

    @Override
    public String name() {
        return "modality-dropout";
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
        return List.of(MODALITY_DROPOUT);
    }

    @Override
    public List<ComponentFactory<?, Evaluator>> evaluators() {
        return List.of(MISSING_MODALITY);
    }
}
