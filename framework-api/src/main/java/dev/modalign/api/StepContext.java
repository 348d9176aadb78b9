package dev.modalign.api;

import ai.djl.ndarray.NDManager;
import java.util.Random;

/**
 * Where training stands when a loss is computed.
 *
 * @param step the global step, from 0
 * @param epoch the epoch, from 0
 * @param totalSteps the number of steps the run will take
 * @param rng a generator seeded from the run's seed and the step
 * @param manager the step's manager: arrays made here are closed at the end of the step
 * @param training false when a loss is computed for evaluation
 * @param encoder encodes inputs a loss makes from the batch's records (hard negatives), with gradients;
 *     {@link BatchEncoder#UNAVAILABLE} where the host (or a test) gives none (since API 1.3)
 * @param metricsLogged whether the host reads this step's {@link LossOutput#metrics()}: it logs metrics every
 *     {@code train.log_every} steps, and on the others a loss may leave out metrics that cost kernels of their
 *     own (an accuracy's argmax and comparisons), returning the same value; true where the host says nothing
 *     (since API 1.4)
 */
public record StepContext(long step, int epoch, long totalSteps, Random rng, NDManager manager, boolean training,
        BatchEncoder encoder, boolean metricsLogged) {

    public StepContext {
        encoder = encoder == null ? BatchEncoder.UNAVAILABLE : encoder;
    }

    /** A context whose metrics are logged, as before API 1.4. */
    public StepContext(long step, int epoch, long totalSteps, Random rng, NDManager manager, boolean training,
            BatchEncoder encoder) {
        this(step, epoch, totalSteps, rng, manager, training, encoder, true);
    }

    /** A context without a {@link BatchEncoder}, as before API 1.3. */
    public StepContext(long step, int epoch, long totalSteps, Random rng, NDManager manager, boolean training) {
        this(step, epoch, totalSteps, rng, manager, training, BatchEncoder.UNAVAILABLE, true);
    }
}
