package dev.modalign.api;

import ai.djl.nn.Parameter;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;

/**
 * A training objective over the outputs of one or more towers. Several losses combine by weight
 * in one experiment; the host adds the weighted values and back-propagates their sum.
 *
 * <p>A loss may own parameters (a learnable temperature or bias, prototypes): return them from
 * {@link #parameters()} with shape and initializer set, and the host initialises them, optimises
 * them and saves them in checkpoints. A loss may keep state across steps (queues, momentum
 * encoders), updated in {@link #afterStep}; such a loss writes that state in {@link #saveState} and reads it
 * back in {@link #loadState}, so that a run resumed from a checkpoint goes on exactly as it would have.
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

    /**
     * Writes the state kept across steps beyond {@link #parameters()} (queues, running means, prototypes,
     * counters) for a checkpoint; the host saves parameters itself. Writes nothing by default. Called on
     * the training thread between steps.
     */
    default void saveState(DataOutputStream out) throws IOException {}

    /**
     * Restores what {@link #saveState} wrote, when a run resumes from a checkpoint: after the loss was
     * created and its parameters initialised, before the first step. Not called when the checkpoint
     * holds no state for this loss (its saveState wrote nothing).
     */
    default void loadState(DataInputStream in) throws IOException {}
}
