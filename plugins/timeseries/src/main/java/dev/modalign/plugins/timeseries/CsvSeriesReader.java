package dev.modalign.plugins.timeseries;

import dev.modalign.api.DataException;
import dev.modalign.plugins.timeseries.TimeseriesModality.Delimiter;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Reads a series from a delimited text file: one row per time step, one column per channel, an
 * optional header row naming the columns. Cells are numbers (a cell wrapped in double quotes is
 * unwrapped; quoted delimiters are not supported, as numeric files do not need them). Blank lines
 * are ignored. A row with another number of cells than the first, or a cell that is not a finite
 * number (empty, "NA", "NaN"), is refused naming the file, line and column: missing values must be
 * filled before training, since a silent zero would be a wrong value.
 *
 * <p>Stateless: each call reads its own file, so it is safe on loader threads.
 */
final class CsvSeriesReader {

    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    /** A series read from a file: channel-major values. */
    record Series(float[] values, int channels) {}

    private final Delimiter delimiter;
    private final Boolean header;
    private final List<String> columns;

    /**
     * @param header whether the first row names the columns; null to decide by whether any of its
     *     cells is not a number
     * @param columns the columns to read, by header name or 0-based index; null for all
     */
    CsvSeriesReader(Delimiter delimiter, Boolean header, List<String> columns) {
        this.delimiter = delimiter;
        this.header = header;
        this.columns = columns;
    }

    Series read(Path file, String origin) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new DataException(origin + ": cannot read " + file.toAbsolutePath() + ": " + e.getMessage(), e);
        }
        return read(bytes, file.toString(), origin);
    }

    /** Reads the delimited text in {@code bytes} (UTF-8), called {@code name} in messages. */
    Series read(byte[] bytes, String name, String origin) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new DataException(origin + ": " + name + " is not UTF-8 text; a series file is numbers in delimited"
                    + " text");
        }
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1);
        }
        String[] lines = text.split("\r?\n", -1);
        int first = 0;
        while (first < lines.length && lines[first].isBlank()) {
            first++;
        }
        if (first == lines.length) {
            throw new DataException(origin + ": " + name + " holds no rows");
        }
        Delimiter used = delimiter == Delimiter.AUTO ? detect(lines[first]) : delimiter;
        String[] firstCells = split(lines[first], used);
        boolean hasHeader = header != null ? header : Arrays.stream(firstCells).anyMatch(c -> !isNumber(c));
        int width = firstCells.length;
        int[] selected = select(firstCells, hasHeader, name, origin, first + 1);
        String[] names = new String[width];
        for (int i = 0; i < width; i++) {
            names[i] = hasHeader ? "'" + firstCells[i] + "'" : "";
        }
        int channels = selected.length;
        float[][] byChannel = new float[channels][64];
        int steps = 0;
        for (int i = hasHeader ? first + 1 : first; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            String[] cells = split(lines[i], used);
            if (cells.length != width) {
                throw new DataException(origin + ": " + name + ":" + (i + 1) + " has " + cells.length + " values, but line "
                        + (first + 1) + " has " + width + (used == Delimiter.AUTO ? "" : " (separated by "
                        + used.name().toLowerCase(Locale.ROOT) + ")") + "; every row is one time step with one value per"
                        + " column");
            }
            if (steps == byChannel[0].length) {
                for (int c = 0; c < channels; c++) {
                    byChannel[c] = Arrays.copyOf(byChannel[c], 2 * steps);
                }
            }
            for (int c = 0; c < channels; c++) {
                int column = selected[c];
                String cell = cells[column];
                float value;
                try {
                    value = Float.parseFloat(cell);
                } catch (NumberFormatException e) {
                    value = Float.NaN;
                }
                if (!Float.isFinite(value)) {
                    throw new DataException(origin + ": " + name + ":" + (i + 1) + " column " + (column + 1)
                            + (names[column].isEmpty() ? "" : " (" + names[column] + ")") + ": "
                            + (cell.isEmpty() ? "empty value" : "'" + cell + "' is not a finite number")
                            + "; fill missing values (e.g. forward-fill) before training");
                }
                byChannel[c][steps] = value;
            }
            steps++;
        }
        if (steps == 0) {
            throw new DataException(origin + ": " + name + " holds a header but no rows of values");
        }
        float[] values = new float[channels * steps];
        for (int c = 0; c < channels; c++) {
            System.arraycopy(byChannel[c], 0, values, c * steps, steps);
        }
        return new Series(values, channels);
    }

    /** The indices of the columns to read. */
    private int[] select(String[] firstCells, boolean hasHeader, String name, String origin, int line) {
        if (columns == null) {
            int[] all = new int[firstCells.length];
            for (int i = 0; i < all.length; i++) {
                all[i] = i;
            }
            return all;
        }
        int[] selected = new int[columns.size()];
        for (int i = 0; i < selected.length; i++) {
            String wanted = columns.get(i).trim();
            int found = -1;
            if (hasHeader) {
                found = Arrays.asList(firstCells).indexOf(wanted);
            }
            if (found < 0 && wanted.matches("\\d+")) {
                found = Integer.parseInt(wanted);
                if (found >= firstCells.length) {
                    throw new DataException(origin + ": " + name + ":" + line + " has " + firstCells.length
                            + " columns, no column " + found + " (0-based) named in columns");
                }
            }
            if (found < 0) {
                throw new DataException(origin + ": " + name + ":" + line + (hasHeader ? " has no column '" + wanted
                        + "'; its columns are " + Arrays.toString(firstCells) : " is not a header, so columns must be"
                        + " 0-based indices, found '" + wanted + "'"));
            }
            selected[i] = found;
        }
        return selected;
    }

    private static Delimiter detect(String line) {
        if (line.indexOf('\t') >= 0) {
            return Delimiter.TAB;
        }
        if (line.indexOf(',') >= 0) {
            return Delimiter.COMMA;
        }
        if (line.indexOf(';') >= 0) {
            return Delimiter.SEMICOLON;
        }
        return Delimiter.WHITESPACE;
    }

    private static String[] split(String line, Delimiter delimiter) {
        String[] cells = switch (delimiter) {
            case COMMA -> line.split(",", -1);
            case SEMICOLON -> line.split(";", -1);
            case TAB -> line.split("\t", -1);
            default -> WHITESPACE.split(line.trim());
        };
        for (int i = 0; i < cells.length; i++) {
            String cell = cells[i].trim();
            if (cell.length() >= 2 && cell.startsWith("\"") && cell.endsWith("\"")) {
                cell = cell.substring(1, cell.length() - 1).replace("\"\"", "\"").trim();
            }
            cells[i] = cell;
        }
        return cells;
    }

    private static boolean isNumber(String cell) {
        try {
            Float.parseFloat(cell);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
