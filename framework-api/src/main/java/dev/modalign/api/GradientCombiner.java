package dev.modalign.api;

import java.util.List;

/**
 * Combines the gradients of several loss terms into the one gradient the optimiser applies: a gradient
 * policy, chosen in YAML under {@code train.gradient} (e.g. {@code gradient: {type: gradharm}}). Without one
 * the host back-propagates the weighted sum of the losses once, as always; with one it back-propagates each
 * weighted term separately (the forward pass is shared), hands the per-term gradients of every trainable
 * parameter to {@link #combine}, and writes what it returns where the optimiser reads its gradients, before
 * the global norm is clipped. Methods that harmonise or reweight conflicting objectives (PCGrad's projection,
 * gradient harmonisation across modality pairs, curricula on gradient agreement) are built on it.
 *
 * <p>Threading: called on the training thread only, once per training step.
 */
public interface GradientCombiner {

    /**
     * Combines one step's per-term gradients.
     *
     * @param gradients the step's per-term gradients; its arrays belong to {@code context.manager()} and are
     *     closed after the step (the combiner may modify them in place)
     * @param context where training stands; arrays made in its manager are closed after the step
     * @return one gradient per trainable parameter, in {@link TermGradients#parameters()} order, each of the
     *     parameter's shape (null: zero), and named scalar metrics logged as {@code train/gradient/<name>}
     */
    Combined combine(TermGradients gradients, StepContext context);

    /**
     * The per-term gradients of one step.
     *
     * @param terms the loss terms' names, in the experiment's order (the names of {@code train/loss/<name>})
     * @param parameters the trainable parameters' names, each prefixed by its owner: {@code <tower>/<name>} for
     *     a tower's encoder, {@code loss:<term>/<name>} for a loss's own parameters
     * @param gradients {@code gradients.get(k).get(p)}: the gradient of term k (with its weight) with respect
     *     to parameter p, or null where term k does not read p (p belongs to a tower the loss does not name,
     *     or to another loss)
     */
    record TermGradients(List<String> terms, List<String> parameters, List<List<ai.djl.ndarray.NDArray>> gradients) {

        public TermGradients {
            terms = List.copyOf(terms);
            parameters = List.copyOf(parameters);
            // Lists with null entries: copied as unmodifiable views, not List.copyOf (which refuses nulls).
            gradients = gradients.stream().map(java.util.Collections::unmodifiableList).toList();
        }
    }

    /**
     * A combined gradient and what is worth logging.
     *
     * @param gradients one per trainable parameter, in the order given (null: zero)
     * @param metrics named scalars, logged as {@code train/gradient/<name>} at the steps that log
     */
    record Combined(List<ai.djl.ndarray.NDArray> gradients, java.util.Map<String, Double> metrics) {

        public Combined {
            gradients = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(gradients));
            metrics = java.util.Map.copyOf(metrics);
        }
    }
}
