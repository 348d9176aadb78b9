package dev.modalign.api;

import ai.djl.nn.Parameter;
import java.util.List;

/**
 * A training objective over the outputs of one or more towers. Several losses combine by weight
 * in one experiment; the host adds the weighted values and back-propagates their sum.
 *
 * <p>A loss may own parameters (a learnable temperature or bias, prototypes): return them from
 * {@link #parameters()} with shape and initializer set, and the host initialises them, optimises
 * them and saves them in checkpoints. A loss may keep state across steps (queues, momentum
 * encoders), updated in {@link #afterStep}.
 *
 * <p>Threading: called on the training thread only.
 */
public interface Loss {

    /**
     * Computes the loss for one batch. Arrays made in {@code context.manager()} are closed after
     * the step; the returned value must be a scalar.
     */
    LossOutput compute(EncodedBatch batch, StepContext context);

    /** Parameters the optimiser must see; none by default. */
    default List<Parameter> parameters() {
        return List.of();
    }

    /** Called after the optimiser updated the parameters, outside the gradient. */
    default void afterStep(EncodedBatch batch, StepContext context) {}
}
