package dev.modalign.plugins.text;

/**
 * Turns a text into token ids. Implementations are stateless and so safe on loader threads.
 *
 * <p>Every tokenizer shares the ids of {@link SpecialTokens}: its output is {@code [CLS, t1, t2, ...]}
 * with every {@code ti >= FIRST_REAL}, at most {@code maxLength} ids in all.
 */
interface Tokenizer {

    /** The number of distinct ids, specials included: ids are in [0, vocabularySize). */
    int vocabularySize();

    /** CLS followed by the text's tokens, truncated to {@code maxLength} ids (CLS included). */
    int[] encode(String text, int maxLength);
}
