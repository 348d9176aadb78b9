package dev.modalign.plugins.cwcl;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** CWCL: contrastive targets weighted by the intra-modal similarity a frozen tower sees. */
public final class CwclPlugin implements Plugin {

    static final ComponentFactory<CwclLoss.Params, Loss> CWCL = ComponentFactory.of(
            "cwcl",
            "InfoNCE with continuous targets w_ij = (1 + cos) / 2 from a frozen teacher tower's intra-modal"
                    + " similarities (Srinivasa et al., CWCL: Cross-Modal Transfer with Continuously Weighted"
                    + " Contrastive Loss, NeurIPS 2023)",
            CwclLoss.Params.class,
            CwclLoss::new);

    @Override
    public String name() {
        return "cwcl";
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
        return List.of(CWCL);
    }
}
