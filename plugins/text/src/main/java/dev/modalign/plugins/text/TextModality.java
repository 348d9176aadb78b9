package dev.modalign.plugins.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import dev.modalign.api.TokenExample;
import dev.modalign.api.TokenSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Text, tokenised without any vocabulary file: words by the hashing trick ({@link
 * HashedWordTokenizer}) or UTF-8 bytes ({@link ByteTokenizer}). Every sequence starts with CLS and
 * holds at most {@code max_len} ids; a batch is padded to its longest sequence.
 *
 * <p>Raw values: a {@link String} is the text itself; {@code byte[]} is UTF-8 text; a {@link Path}
 * is a UTF-8 text file, resolved against the experiment's directory when relative. Stateless after
 * construction, so safe on loader threads.
 */
public final class TextModality implements Modality<TokenExample> {

    /** How text becomes ids. */
    public enum TokenizerKind {
        /** Words (runs of letters and digits) hashed into vocab_size ids. */
        WORD,
        /** UTF-8 bytes, a vocabulary of 260. */
        BYTES
    }

    /**
     * @param tokenizer word (hashed words) or bytes (UTF-8 bytes)
     * @param maxLen the most ids per sequence, CLS included
     * @param vocabSize the word tokenizer's number of ids, specials included
     * @param lowercase lower-case the text before tokenising
     */
    public record Params(
            @Doc("Tokenizer: 'word' hashes each word (run of letters and digits) into vocab_size ids with 32-bit"
                    + " FNV-1a; 'bytes' uses the UTF-8 bytes (vocabulary 260)")
            @Default("word") TokenizerKind tokenizer,
            @Doc("Most token ids per text, the leading CLS included; longer texts are truncated")
            @Default("32") int maxLen,
            @Doc("Number of ids of the word tokenizer, the 4 special ids (PAD 0, CLS 1, MASK 2, UNK 3) included;"
                    + " ignored by 'bytes', whose vocabulary is always 260")
            @Default("4096") int vocabSize,
            @Doc("Lower-case the text (locale-independent) before tokenising")
            @Default("true") boolean lowercase) {

        public Params {
            if (tokenizer == null) {
                throw new InvalidParamException("tokenizer", "must be word or bytes, found nothing");
            }
            if (maxLen < 2) {
                throw new InvalidParamException("max_len", "must be at least 2 (CLS and one token), found " + maxLen
                        + "; 32 suits short captions");
            }
            if (vocabSize <= SpecialTokens.FIRST_REAL) {
                throw new InvalidParamException("vocab_size", "must be greater than " + SpecialTokens.FIRST_REAL
                        + " (the special ids PAD, CLS, MASK, UNK come first), found " + vocabSize
                        + "; a few thousand keeps hash collisions rare");
            }
        }
    }

    private final int maxLength;
    private final Tokenizer tokenizer;
    private final Path baseDir;

    public TextModality(Params params, ComponentContext context) {
        this.maxLength = params.maxLen();
        this.tokenizer = switch (params.tokenizer()) {
            case WORD -> new HashedWordTokenizer(params.vocabSize(), params.lowercase());
            case BYTES -> new ByteTokenizer(params.lowercase());
        };
        this.baseDir = context.baseDir();
    }

    @Override
    public Class<TokenExample> exampleType() {
        return TokenExample.class;
    }

    @Override
    public InputSpec spec() {
        return new TokenSpec(tokenizer.vocabularySize(), maxLength, SpecialTokens.PAD, SpecialTokens.MASK);
    }

    @Override
    public TokenExample decode(Object raw, String origin) {
        String text = text(raw, origin);
        if (text.isBlank()) {
            throw new DataException(origin + ": the text is empty; every record needs some text in this field");
        }
        return new TokenExample(tokenizer.encode(text, maxLength));
    }

    private String text(Object raw, String origin) {
        if (raw instanceof String string) {
            return string;
        }
        if (raw instanceof byte[] bytes) {
            return utf8(bytes, origin, "the bytes");
        }
        if (raw instanceof Path path) {
            Path file = baseDir == null ? path : baseDir.resolve(path);
            try {
                return utf8(Files.readAllBytes(file), origin, file.toString());
            } catch (NoSuchFileException e) {
                throw new DataException(origin + ": no text file at " + file.toAbsolutePath(), e);
            } catch (IOException e) {
                throw new DataException(origin + ": cannot read the text file " + file.toAbsolutePath() + ": " + e, e);
            }
        }
        throw new DataException(origin + ": a text field must be a string, UTF-8 bytes or a file path, found "
                + (raw == null ? "nothing" : raw.getClass().getSimpleName() + " " + raw));
    }

    /** Strict UTF-8: a byte sequence that is not UTF-8 is a data error, not text with U+FFFD in it. */
    private static String utf8(byte[] bytes, String origin, String what) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new DataException(origin + ": " + what + " are not UTF-8 text (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Pads every sequence to the batch's longest with PAD; the mask is 1 for ids of the text (CLS
     * included) and 0 for padding.
     */
    @Override
    public NDList collate(List<TokenExample> examples, NDManager manager) {
        int batchSize = examples.size();
        int longest = 1;
        for (TokenExample example : examples) {
            longest = Math.max(longest, example.ids().length);
        }
        int[] ids = new int[batchSize * longest];
        Arrays.fill(ids, SpecialTokens.PAD);
        float[] mask = new float[batchSize * longest];
        for (int row = 0; row < batchSize; row++) {
            int[] sequence = examples.get(row).ids();
            System.arraycopy(sequence, 0, ids, row * longest, sequence.length);
            Arrays.fill(mask, row * longest, row * longest + sequence.length, 1f);
        }
        Shape shape = new Shape(batchSize, longest);
        NDArray idArray = manager.create(ids, shape);
        NDArray maskArray = manager.create(mask, shape);
        return new NDList(idArray, maskArray);
    }
}
