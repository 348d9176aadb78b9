package dev.modalign.plugins.tcl;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** TCL: cross-modal alignment, intra-modal contrast and local mutual information in one objective. */
public final class TclPlugin implements Plugin {

    static final ComponentFactory<TclLoss.Params, Loss> TCL = ComponentFactory.of(
            "tcl",
            "Triple contrastive loss: cross-modal alignment, intra-modal contrast between two views, and local"
                    + " mutual information between global and token features (Yang et al., Vision-Language"
                    + " Pre-Training with Triple Contrastive Learning, CVPR 2022)",
            TclLoss.Params.class,
            TclLoss::new);

    @Override
    public String name() {
        return "tcl";
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
        return List.of(TCL);
    }
}
