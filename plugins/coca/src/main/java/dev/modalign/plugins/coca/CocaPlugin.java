package dev.modalign.plugins.coca;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * CoCa ("CoCa: Contrastive Captioners are Image-Text Foundation Models", Yu et al., 2022): a captioning loss
 * whose text decoder cross-attends to the image tower's tokens, beside a contrastive loss, and an evaluator that
 * captions held-out images with that decoder.
 */
public final class CocaPlugin implements Plugin {

    /**
     * The captioning loss created last, for the caption evaluator: the two components of one run meet only
     * here. A run composes its losses before it evaluates, and a process runs one run.
     */
    private static final AtomicReference<CaptioningLoss> LAST_CAPTIONER = new AtomicReference<>();

    static final ComponentFactory<CaptioningLoss.Params, Loss> CAPTIONING = ComponentFactory.of(
            "coca-captioning",
            "Captioning loss: a small causal transformer decoder cross-attending to the image tokens, trained with"
                    + " teacher-forced next-token cross-entropy, beside a contrastive loss (Yu et al., CoCa:"
                    + " Contrastive Captioners are Image-Text Foundation Models, 2022)",
            CaptioningLoss.Params.class,
            (params, context) -> {
                CaptioningLoss loss = new CaptioningLoss(params, context);
                LAST_CAPTIONER.set(loss);
                return loss;
            });

    static final ComponentFactory<CaptionEvaluator.Params, Evaluator> CAPTIONS = ComponentFactory.of(
            "coca-captions",
            "Greedy captions of held-out images from the run's coca-captioning decoder, written to captions.tsv"
                    + " (Yu et al., CoCa: Contrastive Captioners are Image-Text Foundation Models, 2022)",
            CaptionEvaluator.Params.class,
            (params, context) -> new CaptionEvaluator(params, context, LAST_CAPTIONER::get));

    @Override
    public String name() {
        return "coca";
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
        return List.of(CAPTIONING);
    }

    @Override
    public List<ComponentFactory<?, Evaluator>> evaluators() {
        return List.of(CAPTIONS);
    }
}
