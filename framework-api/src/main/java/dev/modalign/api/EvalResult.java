package dev.modalign.api;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What an evaluator measured.
 *
 * @param metrics names such as "image_to_text/R_at_1", logged as {@code eval/<evaluator>/<name>}; letters, digits,
 *     spaces and _ . / : - only, the characters MLflow accepts
 * @param artifacts files written under {@link EvalContext#artifactDir()} to log with the run
 */
public record EvalResult(Map<String, Double> metrics, List<Path> artifacts) {

    public EvalResult(Map<String, Double> metrics) {
        this(metrics, List.of());
    }
}
