package dev.modalign.api;

import java.util.Random;

/**
 * A seeded transform of one example. The host hands it a {@link Random} derived from the run's seed,
 * the epoch and the example's index, so a run is reproducible whatever the number of loader
 * threads. Called concurrently from worker threads: keep no mutable state.
 *
 * @param <E> the example type of the modality it applies to
 */
public interface Augmentation<E> {

    /** The example class this augmentation takes, checked against the tower's modality. */
    Class<E> exampleType();

    /** Returns the transformed example; never modifies {@code example}. */
    E apply(E example, Random rng);
}
