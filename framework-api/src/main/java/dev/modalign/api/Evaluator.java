package dev.modalign.api;

/**
 * Measures trained towers on an evaluation set and returns named metrics. Called on the training
 * thread after training (and, where the experiment asks, every few epochs).
 */
public interface Evaluator {

    EvalResult evaluate(EvalContext context);
}
