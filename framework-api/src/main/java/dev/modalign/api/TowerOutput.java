package dev.modalign.api;

import ai.djl.ndarray.NDArray;
import java.util.Optional;

/**
 * What one tower produced for a batch.
 *
 * @param embedding [B, D], not normalised
 * @param tokens [B, T, D] token or patch features, or null when the encoder gives none
 * @param tokenMask [B, T], 1 for real tokens and 0 for padding, or null
 */
public record TowerOutput(NDArray embedding, NDArray tokens, NDArray tokenMask) {

    public TowerOutput(NDArray embedding) {
        this(embedding, null, null);
    }

    public Optional<NDArray> tokensIfAny() {
        return Optional.ofNullable(tokens);
    }
}
