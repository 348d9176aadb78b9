package dev.modalign.plugins.moco;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** MoCo's queue of momentum keys as negatives, and Contriever's independent text crops for query and key. */
public final class MocoPlugin implements Plugin {

    static final ComponentFactory<MocoLoss.Params, Loss> MOCO = ComponentFactory.of(
            "moco",
            "InfoNCE of query towers against momentum-tower keys, with a FIFO queue of past keys as extra negatives"
                    + " (He et al., Momentum Contrast for Unsupervised Visual Representation Learning, CVPR 2020)",
            MocoLoss.Params.class,
            MocoLoss::new);

    static final ComponentFactory<ContrieverCrop.Params, Augmentation<?>> CONTRIEVER_CROP = ComponentFactory.of(
            "contriever-crop",
            "A random contiguous span of a text's tokens, drawn independently for query and key (Izacard et al.,"
                    + " Unsupervised Dense Information Retrieval with Contrastive Learning, TMLR 2022)",
            ContrieverCrop.Params.class,
            ContrieverCrop::new);

    @Override
    public String name() {
        return "moco";
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
        return List.of(MOCO);
    }

    @Override
    public List<ComponentFactory<?, Augmentation<?>>> augmentations() {
        return List.of(CONTRIEVER_CROP);
    }
}
