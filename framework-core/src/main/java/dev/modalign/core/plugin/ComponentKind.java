package dev.modalign.core.plugin;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Plugin;
import java.util.List;
import java.util.function.Function;

/** The kinds of component a plugin contributes, each read from one {@link Plugin} method. */
public enum ComponentKind {
    MODALITY("modality", "modalities", Plugin::modalities),
    ENCODER("encoder", "encoders", Plugin::encoders),
    LOSS("loss", "losses", Plugin::losses),
    AUGMENTATION("augmentation", "augmentations", Plugin::augmentations),
    EVALUATOR("evaluator", "evaluators", Plugin::evaluators),
    DATASET_SOURCE("dataset source", "dataset sources", Plugin::datasetSources),
    TRACKER("tracker", "trackers", Plugin::trackers),
    GRADIENT_COMBINER("gradient combiner", "gradient combiners", Plugin::gradientCombiners);

    private final String label;
    private final String plural;
    private final Function<Plugin, List<? extends ComponentFactory<?, ?>>> contributions;

    ComponentKind(String label, String plural, Function<Plugin, List<? extends ComponentFactory<?, ?>>> contributions) {
        this.label = label;
        this.plural = plural;
        this.contributions = contributions;
    }

    /** How users call it: "loss", "dataset source". */
    public String label() {
        return label;
    }

    /** "losses", "dataset sources". */
    public String plural() {
        return plural;
    }

    List<? extends ComponentFactory<?, ?>> contributionsOf(Plugin plugin) {
        return contributions.apply(plugin);
    }
}
