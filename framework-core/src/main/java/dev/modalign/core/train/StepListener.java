package dev.modalign.core.train;

/**
 * Told how long each training step took, on the training thread, right after the step (its batch
 * closed). The benchmark's clock: {@code modalign bench} times the steps after its warm-up from these.
 */
@FunctionalInterface
public interface StepListener {

    /**
     * One step's timing, in {@link System#nanoTime()} units.
     *
     * @param step the step's index, from 0
     * @param samples the records in its batch
     * @param startNanos when the step asked the loader for its batch
     * @param endNanos when the step was done, its metrics logged and its batch closed
     * @param dataNanos how long it waited for the batch (loading that was not ahead, and collation)
     * @param trackingNanos how long logging its metrics took (zero on steps that log nothing)
     */
    record StepTime(long step, int samples, long startNanos, long endNanos, long dataNanos, long trackingNanos) {}

    void stepTimed(StepTime time);
}
