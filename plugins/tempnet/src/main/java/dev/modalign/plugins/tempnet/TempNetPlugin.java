package dev.modalign.plugins.tempnet;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** TempNet: a robust contrastive loss whose per-sample temperatures a small network predicts. */
public final class TempNetPlugin implements Plugin {

    static final ComponentFactory<TempNetLoss.Params, Loss> TEMPNET = ComponentFactory.of(
            "tempnet",
            "KL-constrained DRO contrastive loss with per-sample temperatures predicted by a small network"
                    + " (Qiu et al., To Cool or not to Cool? Temperature Network Meets Large Foundation Models via"
                    + " DRO, ICML 2024)",
            TempNetLoss.Params.class,
            TempNetLoss::new);

    @Override
    public String name() {
        return "tempnet";
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
        return List.of(TEMPNET);
    }
}
