package dev.modalign.plugins.distill;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Distillation of teacher towers' similarity distributions into a student pair. */
public final class DistillPlugin implements Plugin {

    static final ComponentFactory<DistillLoss.Params, Loss> DISTILL = ComponentFactory.of("distill",
            "CLIP loss plus the KL divergence from frozen teachers' in-batch similarity distributions to the student's"
                    + " (Vasu et al., MobileCLIP: Fast Image-Text Models through Multi-Modal Reinforced Training, CVPR"
                    + " 2024; Paissan et al., tinyCLAP, Interspeech 2024)",
            DistillLoss.Params.class, DistillLoss::new);

    @Override
    public String name() {
        return "distill";
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
        return List.of(DISTILL);
    }
}
