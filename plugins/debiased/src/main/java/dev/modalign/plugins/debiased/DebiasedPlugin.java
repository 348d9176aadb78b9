package dev.modalign.plugins.debiased;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Debiased contrastive learning: InfoNCE whose negatives are corrected for the false negatives among them. */
public final class DebiasedPlugin implements Plugin {

    static final ComponentFactory<DebiasedContrastiveLoss.Params, Loss> DEBIASED = ComponentFactory.of(
            "debiased",
            "Symmetric cross-modal contrastive loss whose negative term is corrected for same-class negatives with the"
                    + " class prior tau_plus (Chuang et al., Debiased Contrastive Learning, NeurIPS 2020, Eq. 6)",
            DebiasedContrastiveLoss.Params.class,
            DebiasedContrastiveLoss::new);

    @Override
    public String name() {
        return "debiased";
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
        return List.of(DEBIASED);
    }
}
