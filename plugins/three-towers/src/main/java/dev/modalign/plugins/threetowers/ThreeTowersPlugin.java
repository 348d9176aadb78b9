package dev.modalign.plugins.threetowers;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/**
 * Three Towers. Its companion LiT needs no loss of its own: it is {@code clip} with the pretrained
 * tower frozen ({@code init_from} + {@code frozen: true}); experiments/methods/lit.yaml shows both.
 */
public final class ThreeTowersPlugin implements Plugin {

    static final ComponentFactory<ThreeTowersLoss.Params, Loss> THREE_TOWERS = ComponentFactory.of("three-towers",
            "Contrastive terms between two towers trained from scratch and a frozen pretrained third tower seen through"
                    + " learned linear heads (Kossen et al., Three Towers: Flexible Contrastive Learning with Pretrained"
                    + " Image Models, NeurIPS 2023)",
            ThreeTowersLoss.Params.class, ThreeTowersLoss::new);

    @Override
    public String name() {
        return "three-towers";
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
        return List.of(THREE_TOWERS);
    }
}
