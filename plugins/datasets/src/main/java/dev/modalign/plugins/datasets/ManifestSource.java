package dev.modalign.plugins.datasets;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Records from a manifest file: CSV or TSV with a header row naming the fields (RFC 4180 quoting),
 * or JSON Lines with one object per line. The whole file is read when the source is created and
 * kept in memory, so {@link #get} is a lookup, safe from any number of threads.
 *
 * <p>Values are Strings (JSON numbers are Numbers, numeric arrays float[]); the values of path
 * fields are {@link Path}s resolved against the manifest's own directory, so a manifest and its
 * files can move together. A record's id is its line number and its origin "file:line".
 */
public final class ManifestSource implements DatasetSource {

    /**
     * @param path the manifest, relative to the experiment file's directory
     * @param format csv, tsv, jsonl, or auto to tell from the file's extension
     * @param pathFields the fields holding file paths; null for those whose names end in "path" or
     *     "file"
     * @param groupField the field naming the item a record belongs to; null when each record is its
     *     own item
     * @param onError fail on a malformed row, or skip it and count it
     */
    public record Params(
            @Doc("Manifest file (.csv, .tsv or .jsonl), relative to the experiment file's directory") String path,
            @Doc("File format: auto (from the extension .csv, .tsv, .jsonl), csv, tsv or jsonl") @Default("auto")
            String format,
            @Doc("Fields whose values are file paths, resolved against the manifest's directory; by default"
                    + " the fields whose names end in 'path' or 'file'; [] for none")
            @Default("null") List<String> pathFields,
            @Doc("Field whose value is the record's group, e.g. the image id shared by several captions; by default"
                    + " each record is its own item")
            @Default("null") String groupField,
            @Doc("On a malformed row: fail, or skip it (skipped rows are counted and reported once)") @Default("fail")
            String onError) {

        public Params {
            if (path == null || path.isBlank()) {
                throw new InvalidParamException("path",
                        "is required: the manifest file, relative to the experiment file's directory");
            }
            if (format == null) {
                format = "auto";
            }
            format = format.toLowerCase(Locale.ROOT);
            if (!format.equals("auto") && Format.named(format) == null) {
                throw new InvalidParamException("format", "must be auto, csv, tsv or jsonl, found '" + format + "'");
            }
            if (pathFields != null) {
                for (String field : pathFields) {
                    if (field == null || field.isBlank()) {
                        throw new InvalidParamException("path_fields", "holds an empty field name; found " + pathFields);
                    }
                }
                pathFields = List.copyOf(pathFields);
            }
            if (groupField != null && groupField.isBlank()) {
                throw new InvalidParamException("group_field",
                        "is empty; name a field, or leave it out so that each record is its own item");
            }
            if (onError == null) {
                onError = "fail";
            }
            onError = onError.toLowerCase(Locale.ROOT);
            if (!onError.equals("fail") && !onError.equals("skip")) {
                throw new InvalidParamException("on_error", "must be fail or skip, found '" + onError + "'");
            }
        }
    }

    /** The manifest formats, each with the extensions that name it. */
    enum Format {
        CSV(".csv"),
        TSV(".tsv"),
        JSONL(".jsonl", ".ndjson");

        private final List<String> extensions;

        Format(String... extensions) {
            this.extensions = List.of(extensions);
        }

        static Format named(String name) {
            for (Format format : values()) {
                if (format.name().toLowerCase(Locale.ROOT).equals(name)) {
                    return format;
                }
            }
            return null;
        }

        static Format ofFile(Path file) {
            String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
            for (Format format : values()) {
                for (String extension : format.extensions) {
                    if (name.endsWith(extension)) {
                        return format;
                    }
                }
            }
            throw new InvalidParamException("format", "cannot tell the format of " + file.getFileName()
                    + " from its extension (.csv, .tsv, .jsonl); set format: csv, tsv or jsonl");
        }
    }

    /** One row as read, before its paths and group are resolved; {@code problem} set when it is malformed. */
    private record RawRow(int line, Map<String, Object> fields, String problem) {}

    private final Params params;
    private final String fileName;
    private final String fingerprint;
    private final List<String> columns;
    private final List<Object[]> values = new ArrayList<>();
    private final List<Integer> lines = new ArrayList<>();
    private final List<String> groups;
    private int skippedRows;
    private String firstSkipped;

    public ManifestSource(Params params, ComponentContext context) {
        this.params = params;
        Path file = context.baseDir().resolve(params.path()).toAbsolutePath().normalize();
        if (!Files.isRegularFile(file)) {
            throw new InvalidParamException("path", (Files.isDirectory(file) ? "a directory, not a manifest file: "
                    : "no such file: ") + file + "; paths are relative to the experiment file's directory");
        }
        this.fileName = file.getFileName().toString();
        Format format = params.format().equals("auto") ? Format.ofFile(file) : Format.named(params.format());
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new DataException("manifest " + file + ": cannot read it: " + e.getMessage(), e);
        }
        String text = utf8(bytes, file);

        Set<String> seenColumns = new LinkedHashSet<>();
        List<RawRow> rows = format == Format.JSONL
                ? readJsonLines(text, seenColumns)
                : readDelimited(text, format == Format.CSV ? ',' : '\t', file, seenColumns);
        this.columns = List.copyOf(seenColumns);
        Set<String> pathFields = pathFields(params, file);
        if (params.groupField() != null && !seenColumns.contains(params.groupField())) {
            throw new InvalidParamException("group_field",
                    "no field '" + params.groupField() + "' in " + file + "; its fields: " + columns);
        }
        this.groups = params.groupField() == null ? null : new ArrayList<>();

        Path directory = file.getParent();
        for (RawRow row : rows) {
            if (row.problem() != null) {
                reject(file, row.line(), row.problem());
                continue;
            }
            try {
                Object[] resolved = resolve(row, pathFields, directory);
                String group = params.groupField() == null ? null : group(row);
                values.add(resolved);
                lines.add(row.line());
                if (groups != null) {
                    groups.add(group);
                }
            } catch (MalformedRowException e) {
                reject(file, row.line(), e.getMessage());
            }
        }
        if (values.isEmpty()) {
            throw new DataException("manifest " + file + ": no records"
                    + (skippedRows > 0 ? "; all " + skippedRows + " rows were malformed (first: " + firstSkipped + ")"
                            : ""));
        }
        if (skippedRows > 0) {
            System.err.println("manifest " + fileName + ": skipped " + skippedRows + " malformed row"
                    + (skippedRows == 1 ? "" : "s") + " (first: " + firstSkipped + ")");
        }
        this.fingerprint = "manifest(path=" + params.path() + ", sha256=" + sha256(bytes).substring(0, 12)
                + ", records=" + values.size() + ")";
    }

    @Override
    public long size() {
        return values.size();
    }

    @Override
    public DataRecord get(long index) {
        if (index < 0 || index >= values.size()) {
            throw new IndexOutOfBoundsException(
                    "manifest " + fileName + " has " + values.size() + " records, asked for " + index);
        }
        int row = (int) index;
        Object[] rowValues = values.get(row);
        Map<String, Object> fields = new LinkedHashMap<>();
        for (int column = 0; column < rowValues.length; column++) {
            if (rowValues[column] != null) {
                fields.put(columns.get(column), rowValues[column]);
            }
        }
        int line = lines.get(row);
        String id = String.valueOf(line);
        return new DataRecord(
                id, groups == null ? id : groups.get(row), fileName + ":" + line, Collections.unmodifiableMap(fields));
    }

    @Override
    public String fingerprint() {
        return fingerprint;
    }

    /** The number of malformed rows skipped with {@code on_error: skip}; 0 otherwise. */
    public int skippedRows() {
        return skippedRows;
    }

    private void reject(Path file, int line, String problem) {
        if (params.onError().equals("fail")) {
            throw new DataException("manifest " + file + ":" + line + ": " + problem
                    + "; fix the row, or set on_error: skip to skip malformed rows");
        }
        if (skippedRows == 0) {
            firstSkipped = "line " + line + ": " + problem;
        }
        skippedRows++;
    }

    private static List<RawRow> readDelimited(String text, char delimiter, Path file, Set<String> columns) {
        DelimitedTextParser parser = new DelimitedTextParser(text, delimiter, "manifest " + file);
        DelimitedTextParser.Row header = parser.next();
        while (header != null && header.blank()) {
            header = parser.next();
        }
        if (header == null) {
            throw new DataException("manifest " + file + ": empty; a " + (delimiter == ',' ? "CSV" : "TSV")
                    + " manifest starts with a header row naming its fields");
        }
        List<String> names = new ArrayList<>();
        for (String name : header.fields()) {
            String trimmed = name.strip();
            if (trimmed.isEmpty() || !columns.add(trimmed)) {
                throw new DataException("manifest " + file + ":" + header.line() + ": the header "
                        + (trimmed.isEmpty() ? "has an empty field name" : "names '" + trimmed + "' twice")
                        + "; the first row must name every field once, found " + header.fields());
            }
            names.add(trimmed);
        }
        List<RawRow> rows = new ArrayList<>();
        while (true) {
            DelimitedTextParser.Row row;
            try {
                row = parser.next();
            } catch (MalformedRowException e) {
                rows.add(new RawRow(parser.rowLine(), null, e.getMessage()));
                continue;
            }
            if (row == null) {
                return rows;
            }
            if (row.blank()) {
                continue;
            }
            if (row.fields().size() != names.size()) {
                rows.add(new RawRow(row.line(), null, "expected " + names.size() + " fields " + names + ", found "
                        + row.fields().size() + (delimiter == ','
                                ? " (a value holding a comma or a line break must be in double quotes)" : "")));
                continue;
            }
            Map<String, Object> fields = new LinkedHashMap<>();
            for (int column = 0; column < names.size(); column++) {
                fields.put(names.get(column), row.fields().get(column));
            }
            rows.add(new RawRow(row.line(), fields, null));
        }
    }

    private static List<RawRow> readJsonLines(String text, Set<String> columns) {
        List<RawRow> rows = new ArrayList<>();
        int line = 0;
        int start = 0;
        while (start < text.length()) {
            line++;
            int end = text.indexOf('\n', start);
            if (end < 0) {
                end = text.length();
            }
            String content = text.substring(start, end);
            start = end + 1;
            if (content.isBlank()) {
                continue;
            }
            try {
                Map<String, Object> fields = JsonObjectLineParser.parseFields(content);
                columns.addAll(fields.keySet());
                rows.add(new RawRow(line, fields, null));
            } catch (MalformedRowException e) {
                rows.add(new RawRow(line, null, "not a JSON object: " + e.getMessage()));
            }
        }
        return rows;
    }

    private Set<String> pathFields(Params params, Path file) {
        Set<String> pathFields = new LinkedHashSet<>();
        if (params.pathFields() == null) {
            for (String column : columns) {
                String lower = column.toLowerCase(Locale.ROOT);
                if (lower.endsWith("path") || lower.endsWith("file")) {
                    pathFields.add(column);
                }
            }
            return pathFields;
        }
        for (String field : params.pathFields()) {
            if (!columns.contains(field)) {
                throw new InvalidParamException("path_fields", "no field '" + field + "' in " + file
                        + "; its fields: " + columns);
            }
            pathFields.add(field);
        }
        return pathFields;
    }

    /** The row's values in column order; path fields resolved, empty paths and absent fields null. */
    private Object[] resolve(RawRow row, Set<String> pathFields, Path directory) {
        Object[] resolved = new Object[columns.size()];
        for (int column = 0; column < columns.size(); column++) {
            String name = columns.get(column);
            Object value = row.fields().get(name);
            if (value != null && pathFields.contains(name)) {
                if (!(value instanceof String relative)) {
                    throw new MalformedRowException("'" + name + "' is a path field, so its value must be a string,"
                            + " found " + describe(value));
                }
                try {
                    value = relative.isEmpty() ? null : directory.resolve(relative).normalize();
                } catch (InvalidPathException e) {
                    throw new MalformedRowException("'" + name + "' is not a valid path: " + e.getMessage());
                }
            }
            resolved[column] = value;
        }
        return resolved;
    }

    private String group(RawRow row) {
        Object value = row.fields().get(params.groupField());
        if (value instanceof String text && !text.isEmpty()) {
            return text;
        }
        if (value instanceof Number number) {
            return number.toString();
        }
        throw new MalformedRowException("the group field '" + params.groupField() + "' "
                + (value == null || "".equals(value) ? "has no value" : "must be a string or a number, found "
                        + describe(value)));
    }

    private static String describe(Object value) {
        return value instanceof float[] numbers ? "an array of " + numbers.length + " numbers" : "'" + value + "'";
    }

    private static String utf8(byte[] bytes, Path file) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new DataException("manifest " + file + ": not UTF-8 text (" + e.getMessage()
                    + "); save it as UTF-8", e);
        }
        // A byte order mark, which some spreadsheet programs write, is not part of the first field's name.
        return text.startsWith("\uFEFF") ? text.substring(1) : text;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
