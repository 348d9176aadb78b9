package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.modalign.api.TokenSpec;
import dev.modalign.testkit.TestContext;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tokenizer: hf} on a real tokenizer.json, all-MiniLM-L6-v2's (BERT uncased WordPiece), when
 * its Maven jar is in the local repository (see {@link MiniLmTokenizerFile}).
 *
 * <p>The expected ids are BERT uncased's: "hello world" is [CLS] hello world [SEP] = [101, 7592,
 * 2088, 102], the example of many tutorials; the others are the entries of the file's own
 * model.vocab (e.g. "a" 1037, "red" 2417, "token" 19204, "##ization" 3989), looked up in Python, and
 * the Python tokenizers library 0.23 gives the same sequences.
 */
class MiniLmTokenizerTest {

    @TempDir
    Path dir;

    @Test
    void bertUncasedGivesItsKnownIds() {
        Optional<Path> file = MiniLmTokenizerFile.extractTo(dir);
        assumeTrue(file.isPresent(), MiniLmTokenizerFile.MISSING);
        TextModality modality = new TextModality(TextModality.Params.hf(file.get().toString(), 32, true),
                TestContext.builder().build());
        assertArrayEquals(new int[] {101, 7592, 2088, 102}, modality.decode("hello world", "t").ids());
        assertArrayEquals(new int[] {101, 1037, 2417, 4418, 1010, 2006, 1996, 2187, 999, 102},
                modality.decode("A red circle, on the left!", "t").ids());
        // Sub-words and accents: "Grüße" is lower-cased and stripped to "gruße", gr ##u ##ße.
        assertArrayEquals(new int[] {101, 19204, 3989, 1997, 24665, 2226, 17499, 102},
                modality.decode("Tokenization of Grüße", "t").ids());
        // The file's own padding (Fixed 128) and truncation (128) give way to max_len and no padding.
        assertEquals(new TokenSpec(30522, 32, 0, 103, Set.of(0, 100, 101, 102, 103)), modality.spec());
        TextModality short4 = new TextModality(TextModality.Params.hf(file.get().toString(), 4, true),
                TestContext.builder().build());
        assertArrayEquals(new int[] {101, 7592, 2088, 102}, short4.decode("hello world again and again", "t").ids());
    }
}
