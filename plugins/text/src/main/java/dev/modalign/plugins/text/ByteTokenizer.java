package dev.modalign.plugins.text;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The text's UTF-8 bytes as tokens, shifted past the special ids: {@code id = byte + FIRST_REAL}, a
 * vocabulary of 256 + 4 = 260 that covers every text in every language with no unknown token (as
 * ByT5, Xue et al., "ByT5: Towards a Token-Free Future with Pre-trained Byte-to-Byte Models", 2022,
 * which likewise offsets bytes by its special ids). Truncation may cut a multi-byte character.
 */
final class ByteTokenizer implements Tokenizer {

    /** 256 byte values after the special ids. */
    static final int VOCABULARY_SIZE = SpecialTokens.FIRST_REAL + 256;

    private final boolean lowercase;

    ByteTokenizer(boolean lowercase) {
        this.lowercase = lowercase;
    }

    @Override
    public int vocabularySize() {
        return VOCABULARY_SIZE;
    }

    @Override
    public int[] encode(String text, int maxLength) {
        byte[] bytes = (lowercase ? text.toLowerCase(Locale.ROOT) : text).getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[Math.min(maxLength, bytes.length + 1)];
        ids[0] = SpecialTokens.CLS;
        for (int i = 1; i < ids.length; i++) {
            ids[i] = (bytes[i - 1] & 0xFF) + SpecialTokens.FIRST_REAL;
        }
        return ids;
    }
}
