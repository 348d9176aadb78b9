package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import dev.modalign.api.TokenExample;
import dev.modalign.api.TokenSpec;
import dev.modalign.plugins.text.TextModality.TokenizerKind;
import dev.modalign.testkit.AbstractModalityContractTest;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The text modality with its default word tokenizer.
 *
 * <p>Expected ids were computed once, independently of this code, with Python 3:
 *
 * <pre>
 *   def fnv(b):
 *       h = 0x811c9dc5
 *       for x in b:
 *           h ^= x; h = (h * 0x01000193) &amp; 0xffffffff
 *       return h
 *   for w in ["a", "red", "circle", "on", "the", "left", "grüße", "世界"]:
 *       h = fnv(w.encode()); print(w, hex(h), 4 + h % 4092, 4 + h % 96)
 * </pre>
 *
 * which printed (word, FNV-1a, id for vocab_size 4096, id for vocab_size 100):
 * a 0xe40c292c 2684 80; red 0x40f480dc 528 96; circle 0x28217089 2921 77; on 0x61342fd0 756 84;
 * the 0xb40eb21c 272 32; left 0x124aec70 84 84; grüße 0x0a0eb658 2728 28; 世界 0x40d651bf 2915 35.
 * FNV-1a("a") = 0xe40c292c is also the published test vector of the FNV reference code.
 */
class WordTextModalityTest extends AbstractModalityContractTest<TextModality.Params> {

    @TempDir
    Path dir;

    @Override
    protected ComponentFactory<TextModality.Params, Modality<?>> factory() {
        return TextPlugin.TEXT;
    }

    @Override
    protected TextModality.Params params() {
        return new TextModality.Params(TokenizerKind.WORD, 32, 4096, true);
    }

    @Override
    protected List<Object> validRaws() {
        try {
            Path file = Files.writeString(dir.resolve("caption.txt"), "a small blue square", StandardCharsets.UTF_8);
            return List.of("A red circle, on the left!", "Grüße, 世界".getBytes(StandardCharsets.UTF_8), file,
                    "one two three four five six seven eight nine ten eleven twelve");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Override
    protected Object invalidRaw() {
        return "";
    }

    private static TextModality modality(TextModality.Params params) {
        return new TextModality(params, TestContext.builder().build());
    }

    private static int[] ids(TextModality modality, String text) {
        return modality.decode(text, "test").ids();
    }

    @Test
    void aKnownSentenceGivesTheHandComputedFnv1aIds() {
        TextModality modality = modality(params());
        assertArrayEquals(new int[] {SpecialTokens.CLS, 2684, 528, 2921, 756, 272, 84},
                ids(modality, "A red circle, on the left!"));
        TextModality small = modality(new TextModality.Params(TokenizerKind.WORD, 32, 100, true));
        assertArrayEquals(new int[] {SpecialTokens.CLS, 80, 96, 77, 84, 32, 84}, ids(small, "a red circle on the left"));
    }

    @Test
    void unicodeWordsAreSplitOnPunctuationAndHashedAsUtf8() {
        TextModality modality = modality(params());
        assertArrayEquals(new int[] {SpecialTokens.CLS, 2728, 2915}, ids(modality, "Grüße, 世界"));
        // "ü" written as u + U+0308 (combining diaeresis) is the same word after NFC.
        assertArrayEquals(new int[] {SpecialTokens.CLS, 2728, 2915}, ids(modality, "Gru\u0308ße,\t世界!!"));
    }

    @Test
    void lowercaseFalseKeepsCaseApart() {
        TextModality cased = modality(new TextModality.Params(TokenizerKind.WORD, 32, 4096, false));
        int[] upper = ids(cased, "Red");
        assertEquals(2, upper.length);
        assertTrue(upper[1] != 528, "'Red' and 'red' should hash apart when lowercase is false");
        assertArrayEquals(new int[] {SpecialTokens.CLS, 528}, ids(cased, "red"));
    }

    @Test
    void longTextsAreTruncatedToMaxLenWithClsFirst() {
        TextModality modality = modality(new TextModality.Params(TokenizerKind.WORD, 4, 4096, true));
        assertArrayEquals(new int[] {SpecialTokens.CLS, 2684, 528, 2921}, ids(modality, "a red circle on the left"));
    }

    @Test
    void idsStayInTheVocabularyAndAboveTheSpecials() {
        TextModality modality = modality(new TextModality.Params(TokenizerKind.WORD, 64, 10, true));
        for (int id : ids(modality, "the quick brown fox jumps over the lazy dog 0 1 2 3 4 5 6 7 8 9")) {
            assertTrue(id == SpecialTokens.CLS || (id >= SpecialTokens.FIRST_REAL && id < 10), "id " + id);
        }
        assertEquals(new TokenSpec(10, 64, 0, 2, Set.of(0, 1, 2, 3)), modality.spec());
    }

    @Test
    void punctuationOnlyTextGivesClsAlone() {
        assertArrayEquals(new int[] {SpecialTokens.CLS}, ids(modality(params()), "?!"));
    }

    @Test
    void collatePadsToTheLongestWithAZeroMask() {
        TextModality modality = modality(params());
        List<TokenExample> batch = List.of(new TokenExample(new int[] {1, 7, 8}), new TokenExample(new int[] {1}),
                new TokenExample(new int[] {1, 9}));
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList arrays = modality.collate(batch, manager);
            assertEquals(new Shape(3, 3), arrays.get(0).getShape());
            assertEquals(DataType.INT32, arrays.get(0).getDataType());
            assertEquals(DataType.FLOAT32, arrays.get(1).getDataType());
            assertArrayEquals(new int[] {1, 7, 8, 1, 0, 0, 1, 9, 0}, arrays.get(0).toIntArray());
            assertArrayEquals(new float[] {1, 1, 1, 1, 0, 0, 1, 1, 0}, arrays.get(1).toFloatArray());
        }
    }

    @Test
    void aRelativePathIsReadFromTheExperimentDirectory() throws IOException {
        Files.writeString(dir.resolve("note.txt"), "left red", StandardCharsets.UTF_8);
        TextModality modality = new TextModality(params(), TestContext.builder().optBaseDir(dir).build());
        assertArrayEquals(new int[] {SpecialTokens.CLS, 84, 528}, modality.decode(Path.of("note.txt"), "test").ids());
    }

    @Test
    void badValuesAreDataErrorsNamingTheOrigin() {
        TextModality modality = new TextModality(params(), TestContext.builder().optBaseDir(dir).build());
        List<Object> bad = List.of("   \n", 3.5, new byte[] {(byte) 0xC3, (byte) 0x28}, Path.of("missing.txt"));
        List<String> why = List.of("empty", "must be a string", "not UTF-8", "no text file");
        for (int i = 0; i < bad.size(); i++) {
            Object raw = bad.get(i);
            DataException error = assertThrows(DataException.class, () -> modality.decode(raw, "train.csv:3 caption"));
            assertTrue(error.getMessage().startsWith("train.csv:3 caption: "), error.getMessage());
            assertTrue(error.getMessage().contains(why.get(i)), error.getMessage());
        }
    }

    @Test
    void invalidParametersNameTheirKey() {
        assertEquals("max_len", assertThrows(InvalidParamException.class,
                () -> new TextModality.Params(TokenizerKind.WORD, 1, 4096, true)).key());
        assertEquals("vocab_size", assertThrows(InvalidParamException.class,
                () -> new TextModality.Params(TokenizerKind.WORD, 32, 4, true)).key());
        assertEquals("tokenizer", assertThrows(InvalidParamException.class,
                () -> new TextModality.Params(null, 32, 4096, true)).key());
    }
}
