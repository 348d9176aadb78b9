package dev.modalign.plugins.cmd;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** CMD: each modality's momentum neighbour distribution distils into the other's, beside a MoCo term. */
public final class CmdPlugin implements Plugin {

    static final ComponentFactory<CmdLoss.Params, Loss> CMD = ComponentFactory.of(
            "cmd",
            "Cross-modal mutual distillation: each modality's momentum-teacher similarity distribution over a memory"
                    + " queue distils into the other modality's student distribution, beside MoCo's contrastive term"
                    + " (Mao et al., CMD: Self-supervised 3D Action Representation Learning with Cross-modal Mutual"
                    + " Distillation, ECCV 2022)",
            CmdLoss.Params.class,
            CmdLoss::new);

    @Override
    public String name() {
        return "cmd";
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
        return List.of(CMD);
    }
}
