package dev.modalign.core.train;

/**
 * Told how long each training step took, on the training thread, right after the step (its batch
 * closed). The benchmark's clock: {@code modalign bench} times the steps after its warm-up from these.
 */
@FunctionalInterface
public interface StepListener {

    /**
     * The parts of a step, in the order they run, timed with {@link System#nanoTime()} around each: what
     * {@code modalign bench --phases} prints, to say where a step's time goes beside PyTorch's.
     */
    enum Phase {
        /** Waiting for the batch: loading that was not ahead, and collation into engine arrays. */
        DATA,
        /** The towers' forward passes (the engine's re-seeding and the step's manager included). */
        FORWARD,
        /** The losses' forward and their weighted sum. */
        LOSS,
        /** Reading the loss back to the host (the non-finite check). */
        LOSS_READ,
        /** Back-propagation. */
        BACKWARD,
        /** The global gradient norm for clipping. */
        CLIP_NORM,
        /** The optimiser's update. */
        OPTIMIZER,
        /** Ending the step's gradients and the losses' after-step hooks. */
        ZERO_AND_AFTER_STEP,
        /** Reading the loss terms and metrics back on the steps that log. */
        METRICS_READ,
        /** Closing the step's manager and the batch's (the arrays they own). */
        CLOSE,
        /** Logging to the tracker. */
        TRACKING
    }

    /**
     * One step's timing, in {@link System#nanoTime()} units.
     *
     * @param step the step's index, from 0
     * @param samples the records in its batch
     * @param startNanos when the step asked the loader for its batch
     * @param endNanos when the step was done, its metrics logged and its batch closed
     * @param dataNanos how long it waited for the batch (loading that was not ahead, and collation)
     * @param trackingNanos how long logging its metrics took (zero on steps that log nothing)
     * @param phaseNanos time per {@link Phase}, indexed by its ordinal (a copy the listener may keep)
     */
    record StepTime(long step, int samples, long startNanos, long endNanos, long dataNanos, long trackingNanos,
            long[] phaseNanos) {

        /** A step timed without its phases (all zero). */
        public StepTime(long step, int samples, long startNanos, long endNanos, long dataNanos, long trackingNanos) {
            this(step, samples, startNanos, endNanos, dataNanos, trackingNanos, new long[Phase.values().length]);
        }
    }

    void stepTimed(StepTime time);
}
