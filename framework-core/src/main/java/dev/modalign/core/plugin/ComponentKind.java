package dev.modalign.core.plugin;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Plugin;
import java.util.List;
import java.util.function.Function;

/** The kinds of component a plugin contributes, each read from one {@link Plugin} method. */
public enum ComponentKind {
    MODALITY("modality", Plugin::modalities),
    ENCODER("encoder", Plugin::encoders),
    LOSS("loss", Plugin::losses),
    AUGMENTATION("augmentation", Plugin::augmentations),
    EVALUATOR("evaluator", Plugin::evaluators),
    DATASET_SOURCE("dataset source", Plugin::datasetSources),
    TRACKER("tracker", Plugin::trackers);

    private final String label;
    private final Function<Plugin, List<? extends ComponentFactory<?, ?>>> contributions;

    ComponentKind(String label, Function<Plugin, List<? extends ComponentFactory<?, ?>>> contributions) {
        this.label = label;
        this.contributions = contributions;
    }

    /** How users call it: "loss", "dataset source". */
    public String label() {
        return label;
    }

    List<? extends ComponentFactory<?, ?>> contributionsOf(Plugin plugin) {
        return contributions.apply(plugin);
    }
}
