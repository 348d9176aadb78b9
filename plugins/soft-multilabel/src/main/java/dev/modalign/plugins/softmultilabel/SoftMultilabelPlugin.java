package dev.modalign.plugins.softmultilabel;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.Loss;
import dev.modalign.api.Modality;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.NoParams;
import dev.modalign.api.Plugin;
import java.util.List;

/**
 * Soft contrastive targets from multi-label overlap, with what it needs to read label sets: the
 * multi-hot modality and the identity encoder (see {@link SoftMultilabelLoss} for why).
 */
public final class SoftMultilabelPlugin implements Plugin {

    static final ComponentFactory<SoftMultilabelLoss.Params, Loss> SOFT_MULTILABEL = ComponentFactory.of(
            "soft-multilabel",
            "Contrastive loss with soft targets from the Jaccard or cosine overlap of multi-label sets (after"
                    + " Wang, Albrecht and Zhu, Multi-Label Guided Soft Contrastive Learning for Efficient Earth"
                    + " Observation Pretraining, 2024)",
            SoftMultilabelLoss.Params.class,
            SoftMultilabelLoss::new);

    static final ComponentFactory<MultiHotModality.Params, Modality<?>> MULTI_HOT = ComponentFactory.of(
            "multi-hot",
            "A record's set of class labels (\"3;7;12\", a JSON array or a number) as a multi-hot float vector",
            MultiHotModality.Params.class,
            MultiHotModality::new);

    static final ComponentFactory<NoParams, Encoder> IDENTITY = ComponentFactory.of(
            "identity",
            "The input vector as the embedding, without parameters (to hand label vectors to a loss)",
            NoParams.class,
            IdentityEncoder::new);

    @Override
    public String name() {
        return "soft-multilabel";
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
        return List.of(SOFT_MULTILABEL);
    }

    @Override
    public List<ComponentFactory<?, Modality<?>>> modalities() {
        return List.of(MULTI_HOT);
    }

    @Override
    public List<ComponentFactory<?, Encoder>> encoders() {
        return List.of(IDENTITY);
    }
}
