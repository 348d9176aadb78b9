package dev.modalign.plugins.siglip;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** The SigLIP objective: an independent sigmoid per pair of the batch, with a learnable scale and bias. */
public final class SigLipPlugin implements Plugin {

    static final ComponentFactory<SigLipLoss.Params, Loss> SIGLIP = ComponentFactory.of(
            "siglip",
            "Pairwise sigmoid loss over the in-batch pairs of two towers, with a learnable temperature and bias"
                    + " (Zhai et al., Sigmoid Loss for Language Image Pre-Training, ICCV 2023)",
            SigLipLoss.Params.class,
            SigLipLoss::new);

    @Override
    public String name() {
        return "siglip";
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
        return List.of(SIGLIP);
    }
}
