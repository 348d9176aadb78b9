package dev.modalign.plugins.gist;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** GIST: InfoNCE whose in-batch negatives a guide tower selects. */
public final class GistPlugin implements Plugin {

    static final ComponentFactory<GistLoss.Params, Loss> GIST = ComponentFactory.of(
            "gist",
            "Symmetric InfoNCE without the in-batch negatives a guide tower rates above the positive (Solatorio,"
                    + " GISTEmbed: Guided In-sample Selection of Training Negatives for Text Embedding Fine-tuning,"
                    + " 2024)",
            GistLoss.Params.class,
            GistLoss::new);

    @Override
    public String name() {
        return "gist";
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
        return List.of(GIST);
    }
}
