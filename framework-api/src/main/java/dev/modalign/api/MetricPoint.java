package dev.modalign.api;

/**
 * One logged value of a metric, as a tracker gives it back.
 *
 * @param step the training step it was logged at
 * @param value the value
 * @param timestamp when it was logged, milliseconds since the epoch
 */
public record MetricPoint(long step, double value, long timestamp) {}
