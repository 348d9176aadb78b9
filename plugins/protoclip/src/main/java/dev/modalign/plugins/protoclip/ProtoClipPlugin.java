package dev.modalign.plugins.protoclip;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** ProtoCLIP: CLIP's InfoNCE plus cross-modal prototype discrimination over online k-means prototypes. */
public final class ProtoClipPlugin implements Plugin {

    static final ComponentFactory<ProtoClipLoss.Params, Loss> PROTOCLIP = ComponentFactory.of(
            "protoclip",
            "Instance InfoNCE plus cross-modal prototype discrimination with k-means prototypes re-estimated"
                    + " online (Chen et al., Prototypical Contrastive Language Image Pretraining, IEEE TNNLS 2023)",
            ProtoClipLoss.Params.class,
            ProtoClipLoss::new);

    @Override
    public String name() {
        return "protoclip";
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
        return List.of(PROTOCLIP);
    }
}
