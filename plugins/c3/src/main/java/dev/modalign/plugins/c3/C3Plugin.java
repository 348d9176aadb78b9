package dev.modalign.plugins.c3;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** C3's collapse (per-modality centring) and corrupt (Gaussian noise) steps, as a contrastive term. */
public final class C3Plugin implements Plugin {

    static final ComponentFactory<C3Loss.Params, Loss> C3 = ComponentFactory.of(
            "c3",
            "InfoNCE on per-modality centred, noise-corrupted, re-normalised embeddings, logging the modality gap"
                    + " (Zhang, Sui and Yeung-Levy, Connect, Collapse, Corrupt: Learning Cross-Modal Tasks with Uni-Modal"
                    + " Data, ICLR 2024)",
            C3Loss.Params.class,
            C3Loss::new);

    @Override
    public String name() {
        return "c3";
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
        return List.of(C3);
    }
}
