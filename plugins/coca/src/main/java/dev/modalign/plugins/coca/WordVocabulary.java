package dev.modalign.plugins.coca;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Ids back to words for the text plugin's {@code word} tokenizer, which hashes words and keeps no vocabulary:
 * {@code id = 4 + FNV-1a-32(utf8(word)) mod (vocab_size - 4)} over the NFC-normalised (optionally lower-cased)
 * runs of letters, digits and marks, as its HashedWordTokenizer documents ("ids can be recomputed anywhere").
 * This class hashes every word of a manifest's captions the same way and keeps, per id, the word seen most
 * often; an id no word of the manifest gives is written {@code <id>}. CocaPluginTest checks the hash against the
 * text plugin's.
 */
final class WordVocabulary {

    private static final int FIRST_REAL = 4;
    private static final int FNV_OFFSET_BASIS = 0x811C9DC5;
    private static final int FNV_PRIME = 0x01000193;

    private final Map<Integer, String> words;

    private WordVocabulary(Map<Integer, String> words) {
        this.words = words;
    }

    /** No words: every id is written as {@code <id>}. */
    static WordVocabulary empty() {
        return new WordVocabulary(Map.of());
    }

    /** The words of column {@code field} of a CSV manifest with a header row. */
    static WordVocabulary fromManifest(Path csv, String field, int vocabularySize, boolean lowercase) {
        List<String> lines;
        try {
            lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the vocabulary manifest " + csv, e);
        }
        if (lines.isEmpty()) {
            return empty();
        }
        List<String> header = splitCsv(lines.get(0));
        int column = header.indexOf(field);
        if (column < 0) {
            throw new IllegalArgumentException(csv + " has no column '" + field + "'; columns: " + header);
        }
        Map<Integer, Map<String, Integer>> counts = new HashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            List<String> cells = splitCsv(line);
            if (cells.size() <= column) {
                continue;
            }
            for (String word : words(cells.get(column), lowercase)) {
                counts.computeIfAbsent(id(word, vocabularySize), k -> new HashMap<>()).merge(word, 1, Integer::sum);
            }
        }
        Map<Integer, String> words = new HashMap<>();
        counts.forEach((id, byWord) -> words.put(id, byWord.entrySet().stream()
                .max(Map.Entry.<String, Integer>comparingByValue()
                        .thenComparing(Map.Entry::getKey, java.util.Comparator.reverseOrder()))
                .orElseThrow().getKey()));
        return new WordVocabulary(words);
    }

    /** The words of {@code ids}, separated by spaces. */
    String text(int[] ids) {
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            out.append(out.length() == 0 ? "" : " ").append(words.getOrDefault(id, "<" + id + ">"));
        }
        return out.toString();
    }

    static int id(String word, int vocabularySize) {
        int hash = FNV_OFFSET_BASIS;
        for (byte b : word.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xFF;
            hash *= FNV_PRIME;
        }
        return FIRST_REAL + (int) (Integer.toUnsignedLong(hash) % (vocabularySize - FIRST_REAL));
    }

    /** The word tokenizer's words: maximal runs of letters, digits and combining marks, after NFC. */
    static List<String> words(String text, boolean lowercase) {
        String normalised = Normalizer.normalize(lowercase ? text.toLowerCase(Locale.ROOT) : text,
                Normalizer.Form.NFC);
        List<String> out = new ArrayList<>();
        int start = -1;
        for (int i = 0; i <= normalised.length(); ) {
            int codePoint = i < normalised.length() ? normalised.codePointAt(i) : ' ';
            if (isWordCharacter(codePoint)) {
                if (start < 0) {
                    start = i;
                }
            } else if (start >= 0) {
                out.add(normalised.substring(start, i));
                start = -1;
            }
            i += i < normalised.length() ? Character.charCount(codePoint) : 1;
        }
        return out;
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

    /** One CSV line (RFC 4180 quoting, no line breaks inside a field). */
    static List<String> splitCsv(String line) {
        List<String> cells = new ArrayList<>();
        StringBuilder cell = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    cell.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    cell.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                cells.add(cell.toString());
                cell.setLength(0);
            } else {
                cell.append(c);
            }
        }
        cells.add(cell.toString());
        return cells;
    }
}
