package dev.modalign.api;

import java.util.List;

/**
 * The entry point of a plugin jar, found by {@link java.util.ServiceLoader}: a jar lists exactly one
 * implementation in {@code META-INF/services/dev.modalign.api.Plugin}.
 *
 * <p>Every component method defaults to contributing nothing, so a plugin implements only what it
 * adds. Component names are global: two plugins that register the same kind under the same name
 * are refused at start-up, naming both.
 */
public interface Plugin {

    /** A short, stable identifier, e.g. {@code clip}. */
    String name();

    /** This plugin's own version, shown by {@code modalign plugins} and recorded with every run. */
    String version();

    /**
     * The API version this plugin was built against. Implement it as {@code return
     * ModalignApi.VERSION;} — the constant is compiled into the plugin's class, so the host can tell
     * a plugin built against another API apart and refuse it with both versions named.
     */
    String apiVersion();

    default List<ComponentFactory<?, Modality<?>>> modalities() {
        return List.of();
    }

    default List<ComponentFactory<?, Encoder>> encoders() {
        return List.of();
    }

    default List<ComponentFactory<?, Loss>> losses() {
        return List.of();
    }

    default List<ComponentFactory<?, Augmentation<?>>> augmentations() {
        return List.of();
    }

    default List<ComponentFactory<?, Evaluator>> evaluators() {
        return List.of();
    }

    default List<ComponentFactory<?, DatasetSource>> datasetSources() {
        return List.of();
    }

    default List<ComponentFactory<?, Tracker>> trackers() {
        return List.of();
    }

    /** Gradient policies chosen under {@code train.gradient} (since API 1.3). */
    default List<ComponentFactory<?, GradientCombiner>> gradientCombiners() {
        return List.of();
    }
}
