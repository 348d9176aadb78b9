package dev.modalign.plugins.supcon;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Supervised contrastive learning: the views of one class pull together, whichever record and tower they come from. */
public final class SupConPlugin implements Plugin {

    static final ComponentFactory<SupConLoss.Params, Loss> SUPCON = ComponentFactory.of(
            "supcon",
            "Supervised contrastive loss L^sup_out over the views of all named towers, positives being the views of"
                    + " the same class (Khosla et al., Supervised Contrastive Learning, NeurIPS 2020)",
            SupConLoss.Params.class,
            SupConLoss::new);

    @Override
    public String name() {
        return "supcon";
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
        return List.of(SUPCON);
    }
}
