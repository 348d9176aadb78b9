package dev.modalign.api;

import java.nio.file.Path;
import java.util.List;

/**
 * What the host tells a component when it is created. Host services reach a plugin only through
 * this context.
 */
public interface ComponentContext {

    /** The run's seed. A component that draws random numbers at creation derives its RNG from it. */
    long seed();

    /**
     * The towers this component works on, as named under {@code towers:} of its YAML block (losses,
     * evaluators), or its own tower (modalities, encoders, augmentations). Empty for others.
     */
    List<String> towers();

    /** The embedding size of a tower's encoder; available to losses and evaluators. */
    int embedDim(String tower);

    /**
     * The input its tower's modality produces: given to encoders and augmentations (e.g. a {@link
     * TokenSpec}'s special ids); null for components outside a tower.
     */
    InputSpec input();

    /** A directory that outlives the run, for caches (tokenizer vocabularies, teacher embeddings). */
    Path cacheDir();

    /** The directory of the experiment file, for resolving relative paths in parameters. */
    Path baseDir();
}
