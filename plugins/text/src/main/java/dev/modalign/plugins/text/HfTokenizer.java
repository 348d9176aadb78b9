package dev.modalign.plugins.text;

import ai.djl.engine.EngineException;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.modalign.api.InvalidParamException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * A HuggingFace {@code tokenizer.json} (WordPiece, BPE, Unigram or WordLevel with the file's
 * normaliser, pre-tokeniser and post-processor) run by the tokenizers library through DJL's binding,
 * so that ids match those the model that ships the file was trained with, e.g. BERT uncased "hello
 * world" gives {@code [CLS] hello world [SEP]} = {@code [101, 7592, 2088, 102]}.
 *
 * <p>The library truncates to {@code max_len} ids with the special tokens kept (BERT's [SEP] stays
 * last); this class never pads, the modality's collate does. DJL exposes neither the vocabulary size
 * nor the pad id, so they are read from the file: the size is the largest id of {@code model.vocab}
 * and {@code added_tokens}, plus one; the pad id is {@code padding.pad_id}, else the id of a token
 * [PAD] or &lt;pad&gt;, else 0; the mask id is that of [MASK] or &lt;mask&gt;, else the pad id.
 *
 * <p>The native library comes out of the tokenizers jar (DJL extracts it to its cache directory,
 * {@code ~/.djl.ai/tokenizers}); with {@code ai.djl.offline=true} nothing is downloaded. Encoding is
 * thread-safe: the library's tokenizer is immutable once truncation is set here.
 */
final class HfTokenizer implements Tokenizer {

    /** The parameter every problem with the file is reported on. */
    static final String KEY = "tokenizer_file";

    private static final System.Logger LOG = System.getLogger(HfTokenizer.class.getName());
    private static final List<String> PAD_TOKENS = List.of("[PAD]", "<pad>");
    private static final List<String> MASK_TOKENS = List.of("[MASK]", "<mask>");

    private final HuggingFaceTokenizer tokenizer;
    private final boolean addSpecialTokens;
    private final int vocabularySize;
    private final int padId;
    private final int maskId;
    private final Set<Integer> specialIds;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, boolean addSpecialTokens, int vocabularySize, int padId,
            int maskId, Set<Integer> specialIds) {
        this.tokenizer = tokenizer;
        this.addSpecialTokens = addSpecialTokens;
        this.vocabularySize = vocabularySize;
        this.padId = padId;
        this.maskId = maskId;
        this.specialIds = specialIds;
    }

    /**
     * Reads a tokenizer.json.
     *
     * @param file the tokenizer.json, or a directory that holds one, already resolved against the
     *     experiment's directory
     * @param maxLength the most ids per text, special tokens included
     * @param addSpecialTokens whether to add the special tokens of the file's post-processor
     * @throws InvalidParamException on {@value #KEY} when the file is missing,
     *     unreadable, or not a tokenizer.json
     */
    static HfTokenizer load(Path file, int maxLength, boolean addSpecialTokens) {
        Path json = (Files.isDirectory(file) ? file.resolve("tokenizer.json") : file).toAbsolutePath().normalize();
        String text = read(json, file);
        JsonObject root = parse(json, text);
        Map<String, Integer> ids = tokenIds(json, root);
        int vocabularySize = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        if (vocabularySize == 0) {
            throw invalid(json, "has an empty vocabulary (model.vocab and added_tokens hold no token)");
        }
        int padId = padId(root, ids);
        int maskId = MASK_TOKENS.stream().filter(ids::containsKey).map(ids::get).findFirst().orElse(padId);
        Map<String, String> options = Map.of(
                "addSpecialTokens", Boolean.toString(addSpecialTokens),
                "truncation", "true",
                "maxLength", Integer.toString(maxLength),
                "modelMaxLength", Integer.toString(maxLength),
                "padding", "false");
        HuggingFaceTokenizer tokenizer;
        try {
            tokenizer = HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), options);
        } catch (EngineException | LinkageError | AssertionError e) {
            // DJL's Platform throws AssertionError when the jar's native/lib/tokenizers.properties is
            // not visible to the thread's context class loader.
            throw new IllegalStateException("the HuggingFace tokenizers native library did not load on "
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch") + " (" + e + "); the jar"
                    + " ai.djl.huggingface:tokenizers must be on the class path, and also in the text plugin's"
                    + " directory when the plugin is loaded from one", e);
        } catch (IOException | RuntimeException e) {
            throw invalid(json, "is not a tokenizer.json the HuggingFace tokenizers library can read ("
                    + e.getMessage() + ")");
        }
        LOG.log(Level.DEBUG, () -> json + ": vocabulary " + vocabularySize + ", pad id " + padId + ", mask id "
                + maskId);
        Set<Integer> specialIds = new HashSet<>(specialTokenIds(root));
        specialIds.add(padId);
        specialIds.add(maskId);
        return new HfTokenizer(tokenizer, addSpecialTokens, vocabularySize, padId, maskId, Set.copyOf(specialIds));
    }

    private static String read(Path json, Path given) {
        try {
            return Files.readString(json, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new InvalidParamException(KEY, "no tokenizer file at " + json
                    + (Files.isDirectory(given) ? " (the directory " + given.toAbsolutePath().normalize()
                            + " holds no tokenizer.json)" : "")
                    + "; give the path of a HuggingFace tokenizer.json, relative to the experiment file's directory");
        } catch (CharacterCodingException e) {
            throw invalid(json, "is not UTF-8 text");
        } catch (IOException e) {
            throw new InvalidParamException(KEY, "cannot read the tokenizer file " + json + ": " + e
                    + "; check that it is a readable file");
        }
    }

    private static JsonObject parse(Path json, String text) {
        JsonElement root;
        try {
            root = JsonParser.parseString(text);
        } catch (JsonParseException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw invalid(json, "is not valid JSON (" + cause.getMessage() + ")");
        }
        if (!root.isJsonObject()) {
            throw invalid(json, "is not a JSON object");
        }
        return root.getAsJsonObject();
    }

    /** Every token of the file and its id: the model's vocabulary, then the added tokens. */
    private static Map<String, Integer> tokenIds(Path json, JsonObject root) {
        Map<String, Integer> ids = new HashMap<>();
        try {
            JsonElement model = root.get("model");
            JsonElement vocab = model != null && model.isJsonObject() ? model.getAsJsonObject().get("vocab") : null;
            if (vocab == null || vocab.isJsonNull()) {
                throw invalid(json, "has no model.vocab");
            }
            if (vocab.isJsonObject()) {
                // WordPiece, BPE, WordLevel: {"token": id, ...}
                for (Map.Entry<String, JsonElement> entry : vocab.getAsJsonObject().entrySet()) {
                    ids.put(entry.getKey(), nonNegative(entry.getValue().getAsInt()));
                }
            } else {
                // Unigram: [["piece", score], ...], the id being the position.
                int id = 0;
                for (JsonElement piece : vocab.getAsJsonArray()) {
                    ids.put(piece.getAsJsonArray().get(0).getAsString(), id++);
                }
            }
            JsonElement added = root.get("added_tokens");
            if (added != null && added.isJsonArray()) {
                for (JsonElement token : added.getAsJsonArray()) {
                    JsonObject object = token.getAsJsonObject();
                    ids.put(object.get("content").getAsString(), nonNegative(object.get("id").getAsInt()));
                }
            }
        } catch (IllegalStateException | UnsupportedOperationException | NullPointerException
                | IndexOutOfBoundsException | NumberFormatException e) {
            throw invalid(json, "has a model.vocab or added_tokens that is not a tokenizer.json's (" + e + ")");
        }
        return ids;
    }

    /** The ids of the added tokens the file marks {@code "special": true} ([CLS], [SEP], [UNK], ...). */
    private static Set<Integer> specialTokenIds(JsonObject root) {
        Set<Integer> ids = new HashSet<>();
        JsonElement added = root.get("added_tokens");
        if (added != null && added.isJsonArray()) {
            for (JsonElement token : added.getAsJsonArray()) {
                JsonObject object = token.getAsJsonObject();
                JsonElement special = object.get("special");
                if (special != null && special.isJsonPrimitive() && special.getAsBoolean()) {
                    ids.add(object.get("id").getAsInt());
                }
            }
        }
        return ids;
    }

    @Override
    public Set<Integer> specialIds() {
        return specialIds;
    }

    private static int nonNegative(int id) {
        if (id < 0) {
            throw new NumberFormatException("negative token id " + id);
        }
        return id;
    }

    private static int padId(JsonObject root, Map<String, Integer> ids) {
        JsonElement padding = root.get("padding");
        if (padding != null && padding.isJsonObject()) {
            JsonElement id = padding.getAsJsonObject().get("pad_id");
            if (id != null && id.isJsonPrimitive() && id.getAsJsonPrimitive().isNumber()) {
                return id.getAsInt();
            }
        }
        return PAD_TOKENS.stream().filter(ids::containsKey).map(ids::get).findFirst().orElse(0);
    }

    private static InvalidParamException invalid(Path json, String what) {
        return new InvalidParamException(KEY, "the tokenizer file " + json + " " + what
                + "; give a HuggingFace tokenizer.json (as tokenizer.save() writes it, or as a model repository"
                + " ships it)");
    }

    @Override
    public int vocabularySize() {
        return vocabularySize;
    }

    @Override
    public int padId() {
        return padId;
    }

    @Override
    public int maskId() {
        return maskId;
    }

    @Override
    public int[] encode(String text, int maxLength) {
        // The library's ids alone: DJL's Encoding also copies out tokens, offsets and masks, which
        // made short captions 1.5 to 2 times slower. The library does not truncate when max_len is
        // shorter than its special tokens; the copy below does.
        long encoding = TokenizersLibrary.LIB.encode(tokenizer.getHandle(), text, addSpecialTokens);
        long[] ids;
        try {
            ids = TokenizersLibrary.LIB.getTokenIds(encoding);
        } finally {
            TokenizersLibrary.LIB.deleteEncoding(encoding);
        }
        int[] out = new int[Math.min(ids.length, maxLength)];
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }
}
