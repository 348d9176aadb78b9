package dev.modalign.api;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * A loss value and what else is worth logging.
 *
 * @param value a scalar NDArray, differentiable with respect to the towers and the loss's
 *     parameters
 * @param metrics named scalars logged as {@code train/<loss>/<name>} (e.g. "temperature"); detach
 *     or compute them outside the gradient where they are not part of the loss
 */
public record LossOutput(NDArray value, Map<String, NDArray> metrics) {

    public LossOutput(NDArray value) {
        this(value, Map.of());
    }
}
