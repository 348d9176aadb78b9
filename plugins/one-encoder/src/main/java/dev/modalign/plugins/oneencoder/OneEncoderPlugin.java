package dev.modalign.plugins.oneencoder;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Progressive alignment: a new tower trained into a frozen shared space, and its emergent retrieval. */
public final class OneEncoderPlugin implements Plugin {

    static final ComponentFactory<AnchoredAlignmentLoss.Params, Loss> LOSS = ComponentFactory.of(
            AnchoredAlignmentLoss.NAME,
            "InfoNCE of a new modality's tower against frozen (detached) anchor towers of an already trained shared"
                    + " space; only the new tower learns (\"OneEncoder: A Lightweight Framework for Progressive"
                    + " Alignment of Modalities\", Faye et al., 2024); use it in a later stage with the anchors frozen",
            AnchoredAlignmentLoss.Params.class,
            AnchoredAlignmentLoss::new);

    static final ComponentFactory<EmergentRetrievalEvaluator.Params, Evaluator> EMERGENT_RETRIEVAL = ComponentFactory.of(
            EmergentRetrievalEvaluator.NAME,
            "Retrieval of a newly aligned tower against every tower of the frozen space, both ways, the towers it was"
                    + " never trained against reported as emergent, against chance (\"OneEncoder: A Lightweight"
                    + " Framework for Progressive Alignment of Modalities\", Faye et al., 2024)",
            EmergentRetrievalEvaluator.Params.class,
            EmergentRetrievalEvaluator::new);

    @Override
    public String name() {
        return "one-encoder";
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
        return List.of(LOSS);
    }

    @Override
    public List<ComponentFactory<?, Evaluator>> evaluators() {
        return List.of(EMERGENT_RETRIEVAL);
    }
}
