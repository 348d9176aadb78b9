package dev.modalign.core.train;

import java.util.Map;

/**
 * What a finished run reports.
 *
 * @param runId the run's id in its tracker
 * @param location where the run was recorded
 * @param steps training steps taken
 * @param seconds wall time of training (without evaluation)
 * @param stepsPerSecond training throughput
 * @param finalLoss the last step's total loss
 * @param metrics evaluation metrics, by full name (eval/retrieval/image_to_text/R_at_1)
 * @param failures evaluators that failed, with their messages; the others' metrics are kept
 */
public record RunResult(String runId, String location, long steps, double seconds, double stepsPerSecond,
        double finalLoss, Map<String, Double> metrics, Map<String, String> failures) {}
