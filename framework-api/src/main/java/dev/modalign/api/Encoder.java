package dev.modalign.api;

import ai.djl.nn.Block;

/**
 * Maps a modality's batch to embeddings.
 *
 * <p>The block's forward takes the NDList that the tower's {@link Modality#collate} produced and
 * returns NDList(embedding [B, D]) or, when {@link #tokenFeatures()} is true, NDList(embedding [B,
 * D], tokens [B, T, D], tokenMask [B, T]) with mask 1 for real tokens. Embeddings are not
 * normalised by the encoder; losses normalise as their method requires.
 *
 * <p>The host initialises the block with the shapes of the first batch, puts its parameters into
 * the optimiser unless the tower is frozen, and saves them in checkpoints.
 */
public interface Encoder {

    Block block();

    /** D, the size of the embedding. */
    int embedDim();

    /** Whether the block also returns token or patch features, for token-level methods. */
    default boolean tokenFeatures() {
        return false;
    }
}
