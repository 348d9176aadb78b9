package dev.modalign.plugins.clip;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** The CLIP objective: symmetric InfoNCE over two towers with a learnable temperature. */
public final class ClipPlugin implements Plugin {

    static final ComponentFactory<ClipLoss.Params, Loss> CLIP = ComponentFactory.of(
            "clip",
            "Symmetric InfoNCE over the in-batch similarities of two towers, with a learnable temperature"
                    + " (Radford et al., Learning Transferable Visual Models From Natural Language Supervision, 2021)",
            ClipLoss.Params.class,
            ClipLoss::new);

    @Override
    public String name() {
        return "clip";
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
        return List.of(CLIP);
    }
}
