package dev.modalign.plugins.gradharm;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.GradientCombiner;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Cross-modality gradient harmonisation: a gradient policy for experiments with several pairwise losses. */
public final class GradHarmPlugin implements Plugin {

    static final ComponentFactory<GradHarm.Params, GradientCombiner> GRADHARM = ComponentFactory.of(
            "gradharm",
            "Projects conflicting pairwise losses' gradients onto each other's normal plane and down-weights steps whose"
                    + " gradients conflict, on a curriculum (Wu et al., Scaling Multimodal Pre-Training via Cross-Modality"
                    + " Gradient Harmonization, NeurIPS 2022)",
            GradHarm.Params.class,
            GradHarm::new);

    @Override
    public String name() {
        return "gradharm";
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
    public List<ComponentFactory<?, GradientCombiner>> gradientCombiners() {
        return List.of(GRADHARM);
    }
}
