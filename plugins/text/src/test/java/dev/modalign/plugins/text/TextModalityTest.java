package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.Modality;
import dev.modalign.api.TokenExample;
import dev.modalign.api.TokenSpec;
import dev.modalign.testkit.AbstractModalityContractTest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TextModalityTest extends AbstractModalityContractTest<TextModality.Params> {

    private static TextModality.Params params(TextModality.Tokenizer tokenizer, int maxLen) {
        return new TextModality.Params(tokenizer, maxLen, 4096, true);
    }

    @Override
    protected ComponentFactory<TextModality.Params, Modality<?>> factory() {
        return ComponentFactory.of("text", "text", TextModality.Params.class, (p, c) -> new TextModality(p));
    }

    @Override
    protected TextModality.Params params() {
        return params(TextModality.Tokenizer.WORD, 32);
    }

    @Override
    protected List<Object> validRaws() {
        return List.of("a large red circle", "small blue square, bottom right".getBytes(StandardCharsets.UTF_8),
                "Grüße, 世界");
    }

    @Override
    protected Object invalidRaw() {
        return new float[] {1f};
    }

    @Test
    void wordsAreHashedWithFnv1a() {
        // Expected ids: 4 + FNV-1a-32(utf8(word)) mod 4092, computed independently in Python:
        //   h = 0x811C9DC5; for b in word.encode(): h ^= b; h = (h * 0x01000193) & 0xFFFFFFFF
        TokenExample tokens = new TextModality(params()).decode("A large RED circle!", "test");
        assertArrayEquals(new int[] {Tokens.CLS, 2684, 1664, 528, 2921}, tokens.ids());
        TokenExample unicode = new TextModality(params()).decode("Grüße, 世界", "test");
        assertArrayEquals(new int[] {Tokens.CLS, 2728, 2915}, unicode.ids());
    }

    @Test
    void longTextsAreTruncatedToMaxLen() {
        TokenExample tokens = new TextModality(params(TextModality.Tokenizer.WORD, 3)).decode("a large red circle", "test");
        assertArrayEquals(new int[] {Tokens.CLS, 2684, 1664}, tokens.ids());
        TokenExample bytes = new TextModality(params(TextModality.Tokenizer.BYTES, 4)).decode("abcdef", "test");
        assertArrayEquals(new int[] {Tokens.CLS, 4 + 'a', 4 + 'b', 4 + 'c'}, bytes.ids());
    }

    @Test
    void bytesTokenizerRoundTripsUtf8() {
        String text = "grüße, 世界";
        int[] ids = new TextModality(params(TextModality.Tokenizer.BYTES, 64)).decode(text, "test").ids();
        byte[] utf8 = new byte[ids.length - 1];
        for (int i = 1; i < ids.length; i++) {
            utf8[i - 1] = (byte) (ids[i] - Tokens.FIRST_REAL);
        }
        assertEquals(text, new String(utf8, StandardCharsets.UTF_8));
        assertEquals(260, ((TokenSpec) new TextModality(params(TextModality.Tokenizer.BYTES, 64)).spec()).vocabularySize());
    }

    @Test
    void collatePadsToTheLongestAndMasksPadding() {
        TextModality modality = new TextModality(params());
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList batch = modality.collate(List.of(new TokenExample(new int[] {1, 5, 6}), new TokenExample(new int[] {1, 7})),
                    manager);
            assertArrayEquals(new int[] {1, 5, 6, 1, 7, 0}, batch.get(0).toIntArray());
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 0}, batch.get(1).toFloatArray());
        }
    }

    @Test
    void emptyTextIsRefusedNamingTheOrigin() {
        DataException error = assertThrows(DataException.class, () -> new TextModality(params()).decode(" ,; ", "a.csv:3"));
        assertEquals("a.csv:3: the text is empty", error.getMessage());
    }
}
