package dev.modalign.plugins.datasets;

import dev.modalign.api.DataException;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits CSV or TSV text into rows of fields with the quoting of RFC 4180 ("Common Format and MIME
 * Type for Comma-Separated Values (CSV) Files", section 2): a field in double quotes may hold the
 * delimiter, line breaks and doubled quotes ({@code ""} for {@code "}). Lines end in LF or CRLF.
 * A quote inside an unquoted field is kept as text, as most writers produce it.
 *
 * <p>Not thread-safe: one parser reads one text once.
 */
final class DelimitedTextParser {

    /** One row: its fields and the line it starts on (1-based; a quoted line break spans lines). */
    record Row(int line, List<String> fields) {

        /** An empty line: nothing between two line ends. */
        boolean blank() {
            return fields.size() == 1 && fields.get(0).isEmpty();
        }
    }

    private final String text;
    private final char delimiter;
    private final String fileName;
    private int position;
    private int line = 1;
    private int rowLine;

    DelimitedTextParser(String text, char delimiter, String fileName) {
        this.text = text;
        this.delimiter = delimiter;
        this.fileName = fileName;
    }

    /** The line the row last returned or refused starts on. */
    int rowLine() {
        return rowLine;
    }

    /**
     * The next row, or null at the end of the text.
     *
     * @throws MalformedRowException for text after a closing quote; the parser has moved to the
     *     next line, so reading can go on
     * @throws DataException for a quote that is never closed: everything after it would be one
     *     field, so no later row can be trusted
     */
    Row next() {
        if (position >= text.length()) {
            return null;
        }
        rowLine = line;
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        while (true) {
            if (position < text.length() && text.charAt(position) == '"') {
                readQuoted(field, fields.size() + 1);
                if (position < text.length() && !atDelimiter() && !atLineEnd()) {
                    char found = text.charAt(position);
                    skipRestOfLine();
                    throw new MalformedRowException("field " + (fields.size() + 1) + " has '" + found
                            + "' after its closing quote; inside a quoted field write a quote as \"\"");
                }
            } else {
                while (position < text.length() && !atDelimiter() && !atLineEnd()) {
                    field.append(text.charAt(position++));
                }
            }
            fields.add(field.toString());
            field.setLength(0);
            if (position >= text.length()) {
                return new Row(rowLine, fields);
            }
            if (atDelimiter()) {
                position++;
            } else {
                consumeLineEnd();
                return new Row(rowLine, fields);
            }
        }
    }

    private void readQuoted(StringBuilder field, int fieldNumber) {
        int openedOn = line;
        position++;
        while (true) {
            if (position >= text.length()) {
                throw new DataException(fileName + ":" + openedOn + ": the quote that opens field " + fieldNumber
                        + " is never closed, so the rest of the file would be read as one field; close it,"
                        + " or write a quote inside a quoted field as \"\"");
            }
            char c = text.charAt(position++);
            if (c == '"') {
                if (position < text.length() && text.charAt(position) == '"') {
                    field.append('"');
                    position++;
                } else {
                    return;
                }
            } else {
                if (c == '\n') {
                    line++;
                }
                field.append(c);
            }
        }
    }

    private boolean atDelimiter() {
        return text.charAt(position) == delimiter;
    }

    private boolean atLineEnd() {
        char c = text.charAt(position);
        return c == '\n' || (c == '\r' && position + 1 < text.length() && text.charAt(position + 1) == '\n')
                || (c == '\r' && position + 1 == text.length());
    }

    private void consumeLineEnd() {
        if (text.charAt(position) == '\r') {
            position++;
        }
        if (position < text.length() && text.charAt(position) == '\n') {
            position++;
        }
        line++;
    }

    private void skipRestOfLine() {
        while (position < text.length() && text.charAt(position) != '\n') {
            position++;
        }
        if (position < text.length()) {
            position++;
            line++;
        }
    }
}
