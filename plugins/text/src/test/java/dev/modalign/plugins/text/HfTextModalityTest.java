package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import dev.modalign.api.InputSpec;
import dev.modalign.api.TokenExample;
import dev.modalign.api.TokenSpec;
import dev.modalign.plugins.text.TextModality.TokenizerKind;
import dev.modalign.testkit.AbstractModalityContractTest;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The text modality with {@code tokenizer: hf} on a hand-written WordPiece tokenizer.json
 * (src/test/resources/tokenizers/wordpiece-tokenizer.json): BERT's normaliser (lower-case, accents
 * stripped) and pre-tokeniser (split on spaces and punctuation), a post-processor that wraps a text
 * in [CLS] ... [SEP], and the vocabulary
 *
 * <pre>
 *   [UNK] 0, [CLS] 1, [SEP] 2, [MASK] 3, a 4, red 5, circle 6, on 7, the 8, left 9, square 10, ##s 11,
 *   blue 12, "," 13, "!" 14, small 15, big 16, [PAD] 17; added special token &lt;shape&gt; 18
 * </pre>
 *
 * <p>with {@code padding.pad_id} 17. The expected ids below follow by hand from that table: words
 * are looked up whole, "squares" is the longest prefix "square" then "##s", a word with no prefix in
 * the table ("purple") is [UNK]. The Python tokenizers library 0.23 gives the same ids for this file.
 */
class HfTextModalityTest extends AbstractModalityContractTest<TextModality.Params> {

    @TempDir
    Path dir;

    static Path fixture() {
        try {
            return Path.of(HfTextModalityTest.class.getResource("/tokenizers/wordpiece-tokenizer.json").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    protected ComponentFactory<TextModality.Params, Modality<?>> factory() {
        return TextPlugin.TEXT;
    }

    @Override
    protected TextModality.Params params() {
        return TextModality.Params.hf(fixture().toString(), 8, true);
    }

    @Override
    protected List<Object> validRaws() {
        try {
            Path file = Files.writeString(dir.resolve("caption.txt"), "a small blue square", StandardCharsets.UTF_8);
            return List.of("A red circle, on the left!", "Big squares".getBytes(StandardCharsets.UTF_8), file,
                    "the small red square on the left of the big blue circle, a purple one on the right");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    protected Object invalidRaw() {
        return "";
    }

    private static TextModality modality(int maxLen, boolean addSpecialTokens) {
        return modality(fixture(), maxLen, addSpecialTokens);
    }

    private static TextModality modality(Path file, int maxLen, boolean addSpecialTokens) {
        return new TextModality(TextModality.Params.hf(file.toString(), maxLen, addSpecialTokens),
                TestContext.builder().build());
    }

    private static List<Integer> ids(InputSpec input) {
        TokenSpec spec = (TokenSpec) input;
        return List.of(spec.vocabularySize(), spec.maxLength(), spec.padId(), spec.maskId());
    }

    private static int[] ids(TextModality modality, String text) {
        return modality.decode(text, "test").ids();
    }

    @Test
    void captionsGiveTheHandComputedWordPieceIds() {
        TextModality modality = modality(32, true);
        assertArrayEquals(new int[] {1, 4, 5, 6, 13, 7, 8, 9, 14, 2}, ids(modality, "A red circle, on the left!"));
        assertArrayEquals(new int[] {1, 15, 12, 10, 11, 2}, ids(modality, "Small blue squares"));
        assertArrayEquals(new int[] {1, 4, 0, 10, 2}, ids(modality, "a purple square"));
        assertArrayEquals(new int[] {1, 8, 18, 2}, ids(modality, "the <shape>"));
        // The file's normaliser lower-cases and strips accents: "Ä RED" is "a red".
        assertArrayEquals(new int[] {1, 4, 5, 2}, ids(modality, "Ä RED"));
    }

    @Test
    void truncationToMaxLenKeepsTheClosingSep() {
        assertArrayEquals(new int[] {1, 4, 5, 6, 2}, ids(modality(5, true), "a red circle on the left"));
        assertArrayEquals(new int[] {1, 4, 5, 6, 13, 7, 8, 2}, ids(modality(8, true), "A red circle, on the left!"));
    }

    @Test
    void withoutSpecialTokensOnlyTheTextsTokensRemain() {
        TextModality modality = modality(4, false);
        assertArrayEquals(new int[] {4, 5, 6}, ids(modality, "a red circle"));
        assertArrayEquals(new int[] {4, 5, 6, 7}, ids(modality, "a red circle on the left"));
        // Control characters are removed by the normaliser: no token at all is a data error, not an empty row.
        DataException error = assertThrows(DataException.class, () -> modality.decode("\u0001\u0002", "rows.csv:7 caption"));
        assertTrue(error.getMessage().startsWith("rows.csv:7 caption: the text gives no tokens"), error.getMessage());
    }

    @Test
    void theSpecComesFromTheFile() {
        // 18 tokens in model.vocab (ids 0-17) and the added <shape> 18: 19 ids; pad_id 17; [MASK] 3.
        // Special ids: the added tokens the file marks special ([UNK] 0, [CLS] 1, [SEP] 2, [MASK] 3, [PAD] 17, <shape> 18).
        assertEquals(new TokenSpec(19, 32, 17, 3, Set.of(0, 1, 2, 3, 17, 18)), modality(32, true).spec());
    }

    @Test
    void augmentationsNeverTouchTheFilesSpecialTokensAndMaskWithItsMaskId() {
        TextModality modality = modality(32, true);
        TestContext context = TestContext.builder().optInput(modality.spec()).build();
        TokenMask mask = new TokenMask(new TokenMask.Params(1.0), context);
        TokenDropout dropout = new TokenDropout(new TokenDropout.Params(1.0), context);
        int[] ids = ids(modality, "A red circle, on the left!"); // [CLS] a red circle , on the left ! [SEP]
        assertArrayEquals(new int[] {1, 3, 3, 3, 3, 3, 3, 3, 3, 2}, mask.apply(new TokenExample(ids), new Random(1)).ids());
        // Everything but one text token is dropped; [CLS] and [SEP] stay in place.
        int[] kept = dropout.apply(new TokenExample(ids), new Random(1)).ids();
        assertEquals(3, kept.length, Arrays.toString(kept));
        assertEquals(1, kept[0]);
        assertEquals(2, kept[2]);
        assertTrue(kept[1] >= 4 && kept[1] <= 14, Arrays.toString(kept));
    }

    @Test
    void collatePadsWithTheTokenizersPadId() {
        TextModality modality = modality(32, true);
        List<TokenExample> batch = List.of(modality.decode("a red circle", "a"), modality.decode("blue", "b"));
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList arrays = modality.collate(batch, manager);
            assertEquals(new Shape(2, 5), arrays.get(0).getShape());
            assertArrayEquals(new int[] {1, 4, 5, 6, 2, 1, 12, 2, 17, 17}, arrays.get(0).toIntArray());
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, arrays.get(1).toFloatArray());
        }
    }

    @Test
    void padAndMaskIdsFallBackToTheirTokensThenZero() throws IOException {
        String json = Files.readString(fixture());
        String noPaddingBlock = json.replaceFirst("(?s)\"padding\": \\{.*?\\},\n  \"added_tokens\"",
                "\"padding\": null,\n  \"added_tokens\"");
        assertTrue(noPaddingBlock.contains("\"padding\": null"), "the fixture's padding block was not replaced");
        Path byToken = Files.writeString(dir.resolve("by-token.json"), noPaddingBlock);
        assertEquals(List.of(19, 16, 17, 3), ids(modality(byToken, 16, true).spec()));
        // Without a padding block, a [PAD] or a [MASK]: pad 0, and the mask id falls back to the pad id.
        Path neither = Files.writeString(dir.resolve("neither.json"),
                noPaddingBlock.replace("[PAD]", "[NOTPAD]").replace("[MASK]", "[NOTMASK]"));
        assertEquals(List.of(19, 16, 0, 0), ids(modality(neither, 16, true).spec()));
    }

    @Test
    void aRelativeFileIsResolvedAgainstTheExperimentDirectory() throws IOException {
        Path tokenizers = Files.createDirectories(dir.resolve("tokenizers/tiny"));
        Files.copy(fixture(), tokenizers.resolve("tokenizer.json"));
        TestContext context = TestContext.builder().optBaseDir(dir).build();
        TextModality byFile = new TextModality(TextModality.Params.hf("tokenizers/tiny/tokenizer.json", 32, true), context);
        assertArrayEquals(new int[] {1, 12, 10, 2}, byFile.decode("blue square", "test").ids());
        // A directory that holds a tokenizer.json names it too, as in a model repository.
        TextModality byDirectory = new TextModality(TextModality.Params.hf("tokenizers/tiny", 32, true), context);
        assertArrayEquals(new int[] {1, 12, 10, 2}, byDirectory.decode("blue square", "test").ids());
    }

    @Test
    void aMissingOrBadFileIsAnErrorOnTokenizerFileNamingTheResolvedPath() throws IOException {
        TestContext context = TestContext.builder().optBaseDir(dir).build();
        Files.createDirectories(dir.resolve("empty"));
        Files.writeString(dir.resolve("broken.json"), "{\"model\": {\"vocab\": {\"a\": 0}");
        Files.writeString(dir.resolve("list.json"), "[1, 2]");
        Files.writeString(dir.resolve("novocab.json"), "{\"model\": {\"type\": \"WordPiece\"}}");
        Files.writeString(dir.resolve("notatokenizer.json"), "{\"model\": {\"type\": \"Telepathy\", \"vocab\": {\"a\": 0}}}");
        Files.write(dir.resolve("latin1.json"), new byte[] {'{', (byte) 0xE9, '}'});
        List<String> files = List.of("missing.json", "empty", "broken.json", "list.json", "novocab.json",
                "notatokenizer.json", "latin1.json");
        List<String> why = List.of("no tokenizer file at " + dir.resolve("missing.json"),
                "no tokenizer file at " + dir.resolve("empty/tokenizer.json"), "is not valid JSON", "is not a JSON object",
                "has no model.vocab", "is not a tokenizer.json the HuggingFace tokenizers library can read",
                "is not UTF-8 text");
        for (int i = 0; i < files.size(); i++) {
            TextModality.Params params = TextModality.Params.hf(files.get(i), 32, true);
            InvalidParamException error = assertThrows(InvalidParamException.class, () -> new TextModality(params, context),
                    files.get(i));
            assertEquals("tokenizer_file", error.key());
            assertTrue(error.getMessage().contains(dir.resolve(files.get(i)).toString()), error.getMessage());
            assertTrue(error.getMessage().contains(why.get(i)), error.getMessage());
        }
    }

    @Test
    void tokenizerFileGoesWithHfAndOnlyWithHf() {
        InvalidParamException missing = assertThrows(InvalidParamException.class,
                () -> new TextModality.Params(TokenizerKind.HF, 32, 4096, true, null, true));
        assertEquals("tokenizer_file", missing.key());
        assertTrue(missing.getMessage().contains("tokenizer hf needs the path"), missing.getMessage());
        InvalidParamException unused = assertThrows(InvalidParamException.class,
                () -> new TextModality.Params(TokenizerKind.WORD, 32, 4096, true, "tokenizer.json", true));
        assertEquals("tokenizer_file", unused.key());
        assertTrue(unused.getMessage().contains("set tokenizer: hf or remove tokenizer_file"), unused.getMessage());
    }
}
