package dev.modalign.plugins.amcl;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** AMCL: several projection heads, each with its own learned, regularised temperature. */
public final class AmclPlugin implements Plugin {

    static final ComponentFactory<AmclLoss.Params, Loss> AMCL = ComponentFactory.of(
            "amcl",
            "Symmetric InfoNCE summed over several learned projection heads shared by two towers, each head with its"
                    + " own learned, regularised temperature (Wang et al., Adaptive Multi-head Contrastive Learning,"
                    + " ECCV 2024)",
            AmclLoss.Params.class,
            AmclLoss::new);

    @Override
    public String name() {
        return "amcl";
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
        return List.of(AMCL);
    }
}
