package dev.modalign.plugins.pairwise;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Pairwise contrastive learning over three or more towers: CLIP's InfoNCE summed over every pair. */
public final class PairwisePlugin implements Plugin {

    static final ComponentFactory<PairwiseLoss.Params, Loss> PAIRWISE = ComponentFactory.of(
            "pairwise",
            "Sum (or weighted sum) of symmetric InfoNCE losses over every pair of N towers, one shared temperature"
                    + " (the CLIP objective of Radford et al., Learning Transferable Visual Models From Natural Language"
                    + " Supervision, 2021, applied pairwise as in multi-modal pre-training)",
            PairwiseLoss.Params.class,
            PairwiseLoss::new);

    @Override
    public String name() {
        return "pairwise";
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
        return List.of(PAIRWISE);
    }
}
