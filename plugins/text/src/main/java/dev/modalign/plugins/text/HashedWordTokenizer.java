package dev.modalign.plugins.text;

import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.Arrays;
import java.util.Locale;

/**
 * Words mapped to ids by the hashing trick (Weinberger et al., "Feature Hashing for Large Scale
 * Multitask Learning", ICML 2009): {@code id = FIRST_REAL + FNV-1a(utf8(word)) mod (vocab_size -
 * FIRST_REAL)}. No vocabulary is fitted, stored or downloaded; two words may share an id, which a
 * vocabulary of a few thousand makes rare for the small captions this is meant for.
 *
 * <p>FNV-1a is the 32-bit Fowler-Noll-Vo hash, variant 1a (offset basis 0x811C9DC5, prime
 * 0x01000193), taken as an unsigned number: stable across JVMs and languages, unlike {@link
 * String#hashCode()}, so ids can be recomputed anywhere.
 *
 * <p>A word is a maximal run of letters, digits and combining marks (Unicode categories L*, Nd, Nl,
 * No, M*); everything else separates words. The marks keep words of scripts whose vowel signs are
 * marks (Devanagari, Thai) whole. The text is lower-cased (optionally) and then brought to Unicode
 * normal form NFC, so "é" typed as one code point or as e + U+0301 hashes alike.
 */
final class HashedWordTokenizer implements Tokenizer {

    private static final int FNV_OFFSET_BASIS = 0x811C9DC5;
    private static final int FNV_PRIME = 0x01000193;

    private final int vocabularySize;
    private final boolean lowercase;

    HashedWordTokenizer(int vocabularySize, boolean lowercase) {
        this.vocabularySize = vocabularySize;
        this.lowercase = lowercase;
    }

    @Override
    public int vocabularySize() {
        return vocabularySize;
    }

    @Override
    public int[] encode(String text, int maxLength) {
        String normalised = Normalizer.normalize(lowercase ? text.toLowerCase(Locale.ROOT) : text, Normalizer.Form.NFC);
        int[] ids = new int[maxLength];
        ids[0] = SpecialTokens.CLS;
        int length = 1;
        int wordStart = -1;
        for (int i = 0; i <= normalised.length() && length < maxLength; ) {
            int codePoint = i < normalised.length() ? normalised.codePointAt(i) : ' ';
            if (isWordCharacter(codePoint)) {
                if (wordStart < 0) {
                    wordStart = i;
                }
            } else if (wordStart >= 0) {
                ids[length++] = wordId(normalised.substring(wordStart, i));
                wordStart = -1;
            }
            i += i < normalised.length() ? Character.charCount(codePoint) : 1;
        }
        return Arrays.copyOf(ids, length);
    }

    /** The id of one word: the hashing trick over its UTF-8 bytes. */
    int wordId(String word) {
        long hash = Integer.toUnsignedLong(fnv1a(word.getBytes(StandardCharsets.UTF_8)));
        return SpecialTokens.FIRST_REAL + (int) (hash % (vocabularySize - SpecialTokens.FIRST_REAL));
    }

    /** 32-bit FNV-1a: for each byte, xor it into the hash, then multiply by the FNV prime (mod 2^32). */
    static int fnv1a(byte[] bytes) {
        int hash = FNV_OFFSET_BASIS;
        for (byte b : bytes) {
            hash ^= b & 0xFF;
            hash *= FNV_PRIME;
        }
        return hash;
    }

    private static boolean isWordCharacter(int codePoint) {
        if (Character.isLetterOrDigit(codePoint)) {
            return true;
        }
        int type = Character.getType(codePoint);
        return type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER;
    }
}
