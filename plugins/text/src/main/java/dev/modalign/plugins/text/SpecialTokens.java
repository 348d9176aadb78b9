package dev.modalign.plugins.text;

import java.util.Set;

/**
 * The token ids every tokenizer of this plugin reserves, so that encoders and augmentations can rely
 * on them whichever tokenizer a run uses. Real tokens start at {@link #FIRST_REAL}.
 */
final class SpecialTokens {

    /** Padding after the end of a shorter sequence in a batch; its mask value is 0. */
    static final int PAD = 0;

    /** Prepended to every sequence, so an encoder can pool at position 0 (as BERT's [CLS]). */
    static final int CLS = 1;

    /** What {@code token-mask} puts in place of a masked token; {@code TokenSpec.maskId()}. */
    static final int MASK = 2;

    /**
     * Unknown token. Reserved so that ids stay stable should a vocabulary-based tokenizer be added;
     * the hashing and byte tokenizers map every input to a real token and never produce it.
     */
    static final int UNK = 3;

    /** Every reserved id. */
    static final Set<Integer> ALL = Set.of(PAD, CLS, MASK, UNK);

    /** The id of the first real (non-special) token. */
    static final int FIRST_REAL = 4;

    private SpecialTokens() {}
}
