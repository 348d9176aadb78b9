package dev.modalign.api;

/**
 * Measures trained towers on an evaluation set and returns named metrics. Called on the training
 * thread after training (and, where the experiment asks, every few epochs).
 */
public interface Evaluator {

    EvalResult evaluate(EvalContext context);

    /**
     * Whether this evaluator reads {@link EvalContext#tokenOutputs}: token features of a whole
     * evaluation set take T times the memory of its embeddings, so the host keeps them only when an
     * evaluator asks.
     */
    default boolean needsTokens() {
        return false;
    }
}
