package dev.modalign.plugins.look;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** LOOK: each view need share its class only with most of its k nearest neighbours, not with its whole class. */
public final class LookPlugin implements Plugin {

    static final ComponentFactory<LookLoss.Params, Loss> LOOK = ComponentFactory.of(
            "look",
            "Leave-one-out k-nearest-neighbour loss over the views of all named towers: each view is classified by a"
                    + " weighted vote of its k nearest in-batch neighbours (Feng et al., Rethinking Supervised"
                    + " Pre-training for Better Downstream Transferring, ICLR 2022)",
            LookLoss.Params.class,
            LookLoss::new);

    @Override
    public String name() {
        return "look";
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
        return List.of(LOOK);
    }
}
