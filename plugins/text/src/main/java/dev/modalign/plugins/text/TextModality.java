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
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Text as token ids: words by the hashing trick ({@link HashedWordTokenizer}) or UTF-8 bytes ({@link
 * ByteTokenizer}), both without any vocabulary file and starting every sequence with CLS; or a
 * HuggingFace tokenizer.json ({@link HfTokenizer}), whose ids and special tokens are those of the
 * model that ships it. Every sequence holds at most {@code max_len} ids; a batch is padded to its
 * longest sequence with the tokenizer's pad id.
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
        BYTES,
        /** A HuggingFace tokenizer.json, its vocabulary and special tokens. */
        HF
    }

    /**
     * @param tokenizer word (hashed words), bytes (UTF-8 bytes) or hf (a tokenizer.json)
     * @param maxLen the most ids per sequence, special tokens included
     * @param vocabSize the word tokenizer's number of ids, specials included
     * @param lowercase lower-case the text before tokenising (word and bytes)
     * @param tokenizerFile the tokenizer.json of hf, relative to the experiment file's directory
     * @param addSpecialTokens whether hf adds the special tokens of the file's post-processor
     */
    public record Params(
            @Doc("Tokenizer: 'word' hashes each word (run of letters and digits) into vocab_size ids with 32-bit"
                    + " FNV-1a; 'bytes' uses the UTF-8 bytes (vocabulary 260); 'hf' reads the HuggingFace"
                    + " tokenizer.json named by tokenizer_file (WordPiece, BPE, Unigram), its vocabulary, special"
                    + " tokens and pad id. The token-mask and token-dropout augmentations assume the ids of"
                    + " 'word' and 'bytes'")
            @Default("word") TokenizerKind tokenizer,
            @Doc("Most token ids per text, special tokens (CLS, or hf's [CLS] and [SEP]) included; longer texts"
                    + " are truncated, hf keeping its special tokens")
            @Default("32") int maxLen,
            @Doc("Number of ids of the word tokenizer, the 4 special ids (PAD 0, CLS 1, MASK 2, UNK 3) included;"
                    + " ignored by 'bytes', whose vocabulary is always 260, and by 'hf', whose vocabulary is the"
                    + " file's")
            @Default("4096") int vocabSize,
            @Doc("Lower-case the text (locale-independent) before tokenising; ignored by 'hf', where the"
                    + " tokenizer.json's normalizer decides (BERT uncased lower-cases)")
            @Default("true") boolean lowercase,
            @Doc("For tokenizer 'hf': the path of a HuggingFace tokenizer.json (or of a directory holding one),"
                    + " relative to the experiment file's directory")
            @Default("null") String tokenizerFile,
            @Doc("For tokenizer 'hf': add the special tokens of the file's post-processor ([CLS] ... [SEP] for"
                    + " BERT, <s> ... </s> for RoBERTa)")
            @Default("true") boolean addSpecialTokens) {

        public Params {
            if (tokenizer == null) {
                throw new InvalidParamException("tokenizer", "must be word, bytes or hf, found nothing");
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
            if (tokenizer == TokenizerKind.HF && (tokenizerFile == null || tokenizerFile.isBlank())) {
                throw new InvalidParamException(HfTokenizer.KEY, "tokenizer hf needs the path of a HuggingFace"
                        + " tokenizer.json, relative to the experiment file's directory, e.g. tokenizer_file:"
                        + " tokenizers/bert-base-uncased/tokenizer.json");
            }
            if (tokenizer != TokenizerKind.HF && tokenizerFile != null) {
                throw new InvalidParamException(HfTokenizer.KEY, "is read by tokenizer hf only, and the tokenizer is "
                        + tokenizer.name().toLowerCase(Locale.ROOT) + "; set tokenizer: hf or remove"
                        + " tokenizer_file");
            }
            if (tokenizerFile != null) {
                try {
                    Path.of(tokenizerFile);
                } catch (InvalidPathException e) {
                    throw new InvalidParamException(HfTokenizer.KEY, "is not a file path (" + e.getMessage()
                            + "); give the path of a tokenizer.json, relative to the experiment file's directory");
                }
            }
        }

        /** The built-in tokenizers' parameters: no tokenizer file. */
        public Params(TokenizerKind tokenizer, int maxLen, int vocabSize, boolean lowercase) {
            this(tokenizer, maxLen, vocabSize, lowercase, null, true);
        }

        /** tokenizer hf with the given file. */
        public static Params hf(String tokenizerFile, int maxLen, boolean addSpecialTokens) {
            return new Params(TokenizerKind.HF, maxLen, 4096, true, tokenizerFile, addSpecialTokens);
        }
    }

    private final int maxLength;
    private final Tokenizer tokenizer;
    private final Path baseDir;

    public TextModality(Params params, ComponentContext context) {
        this.maxLength = params.maxLen();
        this.baseDir = context.baseDir();
        this.tokenizer = switch (params.tokenizer()) {
            case WORD -> new HashedWordTokenizer(params.vocabSize(), params.lowercase());
            case BYTES -> new ByteTokenizer(params.lowercase());
            case HF -> HfTokenizer.load(resolve(Path.of(params.tokenizerFile())), maxLength, params.addSpecialTokens());
        };
    }

    private Path resolve(Path path) {
        return baseDir == null ? path : baseDir.resolve(path);
    }

    @Override
    public Class<TokenExample> exampleType() {
        return TokenExample.class;
    }

    @Override
    public InputSpec spec() {
        return new TokenSpec(tokenizer.vocabularySize(), maxLength, tokenizer.padId(), tokenizer.maskId(),
                tokenizer.specialIds());
    }

    @Override
    public TokenExample decode(Object raw, String origin) {
        String text = text(raw, origin);
        if (text.isBlank()) {
            throw new DataException(origin + ": the text is empty; every record needs some text in this field");
        }
        int[] ids = tokenizer.encode(text, maxLength);
        if (ids.length == 0) {
            // Only hf without special tokens can get here; an all-padding row would pool over nothing.
            throw new DataException(origin + ": the text gives no tokens; give text the tokenizer has tokens for, or"
                    + " set add_special_tokens: true");
        }
        return new TokenExample(ids);
    }

    private String text(Object raw, String origin) {
        if (raw instanceof String string) {
            return string;
        }
        if (raw instanceof byte[] bytes) {
            return utf8(bytes, origin, "the bytes");
        }
        if (raw instanceof Path path) {
            Path file = resolve(path);
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
     * Pads every sequence to the batch's longest with the tokenizer's pad id; the mask is 1 for ids
     * of the text (special tokens included) and 0 for padding.
     */
    @Override
    public NDList collate(List<TokenExample> examples, NDManager manager) {
        int batchSize = examples.size();
        int longest = 1;
        for (TokenExample example : examples) {
            longest = Math.max(longest, example.ids().length);
        }
        int[] ids = new int[batchSize * longest];
        Arrays.fill(ids, tokenizer.padId());
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
