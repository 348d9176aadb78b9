package dev.modalign.plugins.clap;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import dev.modalign.plugins.datasets.ManifestSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Keyword-to-caption augmentation ("Large-scale Contrastive Language-Audio Pretraining with Feature
 * Fusion and Keyword-to-Caption Augmentation", Wu et al., ICASSP 2023, Section 2.4) as a data set
 * source: the records of a manifest, each with one more field, a caption written from the record's
 * keywords (labels, tags) by a template.
 *
 * <p>A template is text with placeholders: {@code {keywords}} for the record's keywords joined as a
 * phrase ("speech", "speech and music", "speech, music and birds"), and {@code {name}} for the value of
 * the record's field {@code name}. The keywords are the values of the {@code keywords} fields, each split
 * at {@code separator}; {@code values} renames raw values into words (a language code into its name, a
 * label id into its label). Each record gets one of the templates, drawn from the run's seed and the
 * record's id, so a record keeps its caption across epochs and runs with the same seed, as the paper's
 * captions are written once.
 *
 * <p>What differs from the paper: CLAP writes its captions from AudioSet's labels with a T5 model
 * fine-tuned to make a sentence of keywords ("keyword-to-caption"); nothing may be downloaded here, so
 * templates stand in for the language model. The source's remaining keys are those of the {@code
 * manifest} source, which reads the records.
 */
public final class KeywordCaptionSource implements DatasetSource {

    /** {@code {name}}: a field, or {@code keywords}. */
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([A-Za-z0-9_.-]+)}");
    static final String KEYWORDS = "keywords";

    /** The parameters of {@code keyword-captions}. */
    public record Params(
            @Doc("Manifest file (.csv, .tsv or .jsonl), relative to the experiment file's directory") String path,
            @Doc("File format: auto (from the extension), csv, tsv or jsonl") @Default("auto") String format,
            @Doc("Fields whose values are file paths, resolved against the manifest's directory; by default the"
                    + " fields whose names end in 'path' or 'file'") @Default("null") List<String> pathFields,
            @Doc("Field whose value is the record's group; by default each record is its own item") @Default("null")
            String groupField,
            @Doc("On a malformed row: fail, or skip it") @Default("fail") String onError,
            @Doc("Caption templates, one drawn per record: text with {keywords} (the record's keywords as a phrase)"
                    + " and {field} placeholders, e.g. \"the sound of {keywords}\"") List<String> templates,
            @Doc("Fields whose values are the record's keywords, each split at separator") @Default("[]")
            List<String> keywords,
            @Doc("What separates several keywords in one field's value") @Default(";") String separator,
            @Doc("Words for raw values, by field: e.g. {lang: {en: English, fr: French}}; other values stay as they"
                    + " are") @Default("{}") Map<String, Map<String, String>> values,
            @Doc("The name of the field the caption is written to; the towers read it as any field") @Default("caption")
            String field) {

        public Params {
            if (templates == null || templates.isEmpty()) {
                throw new InvalidParamException("templates", "needs at least one caption template, e.g. [\"the sound"
                        + " of {keywords}\"]");
            }
            for (String template : templates) {
                if (template == null || template.isBlank()) {
                    throw new InvalidParamException("templates", "holds an empty template; found " + templates);
                }
            }
            templates = List.copyOf(templates);
            keywords = keywords == null ? List.of() : List.copyOf(keywords);
            for (String template : templates) {
                if (template.contains("{" + KEYWORDS + "}") && keywords.isEmpty()) {
                    throw new InvalidParamException("keywords", "is empty, but the template \"" + template
                            + "\" uses {keywords}; name the fields that hold them, e.g. [labels]");
                }
            }
            if (separator == null || separator.isEmpty()) {
                throw new InvalidParamException("separator", "must be at least one character, e.g. ';'");
            }
            values = values == null ? Map.of() : Map.copyOf(values);
            if (field == null || field.isBlank()) {
                throw new InvalidParamException("field", "must name the field the caption is written to, e.g. caption");
            }
        }
    }

    private final ManifestSource manifest;
    private final Params params;
    private final long seed;

    public KeywordCaptionSource(Params params, ComponentContext context) {
        this.manifest = new ManifestSource(new ManifestSource.Params(params.path(), params.format(), params.pathFields(),
                params.groupField(), params.onError()), context);
        this.params = params;
        this.seed = context.seed();
        if (manifest.size() > 0) {
            Set<String> fields = manifest.get(0).fields().keySet();
            for (String keywordField : params.keywords()) {
                if (!fields.contains(keywordField)) {
                    throw new InvalidParamException("keywords", "names the field '" + keywordField + "', which "
                            + params.path() + " does not have; its fields: " + fields);
                }
            }
            for (String template : params.templates()) {
                for (String name : placeholders(template)) {
                    if (!name.equals(KEYWORDS) && !fields.contains(name)) {
                        throw new InvalidParamException("templates", "\"" + template + "\" names the field '" + name
                                + "', which " + params.path() + " does not have; its fields: " + fields
                                + ", and {keywords}");
                    }
                }
            }
        }
    }

    @Override
    public long size() {
        return manifest.size();
    }

    @Override
    public DataRecord get(long index) {
        DataRecord record = manifest.get(index);
        Map<String, Object> fields = new LinkedHashMap<>(record.fields());
        fields.put(params.field(), caption(record));
        return new DataRecord(record.id(), record.group(), record.origin(), fields);
    }

    @Override
    public String id(long index) {
        return manifest.id(index);
    }

    @Override
    public String fingerprint() {
        return manifest.fingerprint() + " keyword-captions(" + Integer.toHexString(List.of(params.templates(),
                params.keywords(), params.separator(), params.values(), params.field()).hashCode()) + ", seed " + seed
                + ")";
    }

    /** The record's caption: its template, drawn from the seed and the record's id, filled in. */
    String caption(DataRecord record) {
        List<String> templates = params.templates();
        String template = templates.get(templateIndex(record.id(), templates.size()));
        Matcher matcher = PLACEHOLDER.matcher(template);
        StringBuilder caption = new StringBuilder();
        while (matcher.find()) {
            String name = matcher.group(1);
            String value = name.equals(KEYWORDS) ? phrase(keywordsOf(record)) : word(name, text(record, name));
            matcher.appendReplacement(caption, Matcher.quoteReplacement(value));
        }
        matcher.appendTail(caption);
        return caption.toString();
    }

    /** Which template a record gets: uniform over the templates, fixed by the seed and the record's id. */
    int templateIndex(String id, int count) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ id.hashCode()).nextInt(count);
    }

    /** The record's keywords, in the order of the keyword fields and of their values, each once, renamed. */
    List<String> keywordsOf(DataRecord record) {
        Set<String> found = new LinkedHashSet<>();
        for (String keywordField : params.keywords()) {
            for (String raw : text(record, keywordField).split(Pattern.quote(params.separator()))) {
                String keyword = raw.trim();
                if (!keyword.isEmpty()) {
                    found.add(word(keywordField, keyword));
                }
            }
        }
        if (found.isEmpty()) {
            throw new DataException(record.origin() + ": no keyword in the fields " + params.keywords()
                    + " to write a caption from; fill them, or use templates without {keywords}");
        }
        return new ArrayList<>(found);
    }

    /** "a", "a and b", "a, b and c". */
    static String phrase(List<String> keywords) {
        if (keywords.size() == 1) {
            return keywords.get(0);
        }
        return String.join(", ", keywords.subList(0, keywords.size() - 1)) + " and " + keywords.get(keywords.size() - 1);
    }

    private String word(String field, String raw) {
        Map<String, String> words = params.values().get(field);
        return words == null ? raw : words.getOrDefault(raw, raw);
    }

    private static String text(DataRecord record, String field) {
        return String.valueOf(record.field(field)).trim();
    }

    private static List<String> placeholders(String template) {
        List<String> names = new ArrayList<>();
        Matcher matcher = PLACEHOLDER.matcher(template);
        while (matcher.find()) {
            names.add(matcher.group(1));
        }
        return names;
    }

    @Override
    public void close() {
        manifest.close();
    }
}
