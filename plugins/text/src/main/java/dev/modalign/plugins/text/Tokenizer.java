package dev.modalign.plugins.text;

import java.util.Set;

/**
 * Turns a text into token ids. Implementations are stateless after construction and so safe on
 * loader threads.
 *
 * <p>The built-in tokenizers ({@link HashedWordTokenizer}, {@link ByteTokenizer}) share the ids of
 * {@link SpecialTokens}: their output is {@code [CLS, t1, t2, ...]} with every {@code ti >=
 * FIRST_REAL}. A tokenizer read from a vocabulary file ({@link HfTokenizer}) keeps that file's ids,
 * so that a pre-trained text tower's embeddings line up with them; it reports its own padding and
 * mask ids.
 */
interface Tokenizer {

    /** The number of distinct ids, specials included: ids are in [0, vocabularySize). */
    int vocabularySize();

    /** The text's ids, truncated to {@code maxLength} ids, special tokens included. */
    int[] encode(String text, int maxLength);

    /** The id that fills a sequence after its end in a batch. */
    default int padId() {
        return SpecialTokens.PAD;
    }

    /** The id that stands for a masked token ({@code TokenSpec.maskId()}). */
    default int maskId() {
        return SpecialTokens.MASK;
    }

    /** Every id that is not a token of the text ({@code TokenSpec.specialIds()}). */
    default Set<Integer> specialIds() {
        return SpecialTokens.ALL;
    }
}
