package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Modality;
import dev.modalign.api.TokenSpec;
import dev.modalign.plugins.text.TextModality.TokenizerKind;
import dev.modalign.testkit.AbstractModalityContractTest;
import dev.modalign.testkit.TestContext;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The text modality with the byte tokenizer. */
class ByteTextModalityTest extends AbstractModalityContractTest<TextModality.Params> {

    @Override
    protected ComponentFactory<TextModality.Params, Modality<?>> factory() {
        return TextPlugin.TEXT;
    }

    @Override
    protected TextModality.Params params() {
        return new TextModality.Params(TokenizerKind.BYTES, 24, 4096, false);
    }

    @Override
    protected List<Object> validRaws() {
        return List.of("a red circle", "Grüße, 世界", "x".getBytes(StandardCharsets.UTF_8),
                "a text much longer than the twenty-four ids the params allow");
    }

    @Override
    protected Object invalidRaw() {
        return 42;
    }

    private TextModality modality() {
        return new TextModality(params(), TestContext.builder().build());
    }

    @Test
    void unicodeTextRoundTripsThroughItsBytes() {
        String text = "Grüße, 世界";
        int[] ids = modality().decode(text, "test").ids();
        assertEquals(SpecialTokens.CLS, ids[0]);
        // Independently: [b + 4 for b in "Grüße, 世界".encode()] in Python 3.
        assertArrayEquals(new int[] {75, 118, 199, 192, 199, 163, 105, 48, 36, 232, 188, 154, 235, 153, 144},
                Arrays.copyOfRange(ids, 1, ids.length));
        byte[] bytes = new byte[ids.length - 1];
        for (int i = 1; i < ids.length; i++) {
            bytes[i - 1] = (byte) (ids[i] - SpecialTokens.FIRST_REAL);
        }
        assertEquals(text, new String(bytes, StandardCharsets.UTF_8));
    }

    @Test
    void truncatesToMaxLenAndReportsAVocabularyOf260() {
        int[] ids = modality().decode("abcdefghijklmnopqrstuvwxyz0123456789", "test").ids();
        assertEquals(24, ids.length);
        assertEquals('w' + SpecialTokens.FIRST_REAL, ids[23]);
        assertEquals(new TokenSpec(260, 24, 0, 2, Set.of(0, 1, 2, 3)), modality().spec());
    }

    @Test
    void lowercaseAppliesToBytesToo() {
        TextModality lower = new TextModality(new TextModality.Params(TokenizerKind.BYTES, 8, 4096, true),
                TestContext.builder().build());
        assertArrayEquals(new int[] {SpecialTokens.CLS, 'a' + 4, 'b' + 4}, lower.decode("AB", "test").ids());
    }
}
