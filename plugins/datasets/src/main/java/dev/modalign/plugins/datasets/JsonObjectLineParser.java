package dev.modalign.plugins.datasets;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads one JSON Lines row, a JSON object (RFC 8259, "The JavaScript Object Notation (JSON) Data
 * Interchange Format"), into record fields: a string stays a String, a number becomes a Long (an
 * integer that fits) or a Double, true and false become the Strings "true" and "false", an array
 * of numbers becomes a float[] (an embedding, a series), and null leaves the field out. Any other
 * array or object is kept as its JSON text for the modality that knows what to make of it.
 *
 * <p>This small reader stands in for a JSON library because a plugin sees only the API and DJL
 * from the host; a library reached through DJL's dependencies may not be visible to it.
 *
 * <p>Not thread-safe: one parser reads one line once.
 */
final class JsonObjectLineParser {

    /** The marker for a JSON null while parsing; such fields are dropped before returning. */
    private static final Object NULL = new Object();

    private final String text;
    private int position;

    private JsonObjectLineParser(String text) {
        this.text = text;
    }

    /**
     * The fields of the object on one line, in the order written.
     *
     * @throws MalformedRowException when the line is not one JSON object
     */
    static Map<String, Object> parseFields(String line) {
        return new JsonObjectLineParser(line).object();
    }

    private Map<String, Object> object() {
        skipWhitespace();
        if (!peek('{')) {
            throw malformed("expected a JSON object starting with '{'");
        }
        position++;
        Map<String, Object> fields = new LinkedHashMap<>();
        skipWhitespace();
        if (peek('}')) {
            position++;
        } else {
            while (true) {
                skipWhitespace();
                if (!peek('"')) {
                    throw malformed("expected a quoted field name");
                }
                String name = string();
                skipWhitespace();
                expect(':');
                skipWhitespace();
                Object value = topLevelValue();
                if (fields.containsKey(name)) {
                    throw malformed("field '" + name + "' appears twice");
                }
                fields.put(name, value);
                skipWhitespace();
                if (peek(',')) {
                    position++;
                } else if (peek('}')) {
                    position++;
                    break;
                } else {
                    throw malformed("expected ',' or '}'");
                }
            }
        }
        skipWhitespace();
        if (position < text.length()) {
            throw malformed("text after the object's closing '}'");
        }
        // A null value leaves the field out, as if it were not written.
        fields.values().removeIf(value -> value == NULL);
        return fields;
    }

    private Object topLevelValue() {
        if (peek('[')) {
            int start = position;
            float[] numbers = numberArray();
            if (numbers != null) {
                return numbers;
            }
            position = start;
            skipValue();
            return text.substring(start, position);
        }
        if (peek('{')) {
            int start = position;
            skipValue();
            return text.substring(start, position);
        }
        return scalar();
    }

    /** An array holding only numbers, or null (position unspecified) when it holds anything else. */
    private float[] numberArray() {
        position++;
        float[] values = new float[8];
        int count = 0;
        skipWhitespace();
        if (peek(']')) {
            position++;
            return new float[0];
        }
        while (true) {
            skipWhitespace();
            if (position >= text.length() || !(text.charAt(position) == '-' || isDigit(text.charAt(position)))) {
                return null;
            }
            if (count == values.length) {
                values = Arrays.copyOf(values, 2 * count);
            }
            values[count++] = number().floatValue();
            skipWhitespace();
            if (peek(',')) {
                position++;
            } else if (peek(']')) {
                position++;
                return Arrays.copyOf(values, count);
            } else {
                return null;
            }
        }
    }

    private Object scalar() {
        if (position >= text.length()) {
            throw malformed("expected a value");
        }
        char c = text.charAt(position);
        if (c == '"') {
            return string();
        }
        if (c == '-' || isDigit(c)) {
            return number();
        }
        if (text.startsWith("true", position)) {
            position += 4;
            return "true";
        }
        if (text.startsWith("false", position)) {
            position += 5;
            return "false";
        }
        if (text.startsWith("null", position)) {
            position += 4;
            return NULL;
        }
        throw malformed("expected a value");
    }

    /** Moves past any JSON value, checking its syntax. */
    private void skipValue() {
        skipWhitespace();
        if (peek('[')) {
            position++;
            skipWhitespace();
            if (peek(']')) {
                position++;
                return;
            }
            while (true) {
                skipValue();
                skipWhitespace();
                if (peek(',')) {
                    position++;
                } else if (peek(']')) {
                    position++;
                    return;
                } else {
                    throw malformed("expected ',' or ']'");
                }
            }
        }
        if (peek('{')) {
            position++;
            skipWhitespace();
            if (peek('}')) {
                position++;
                return;
            }
            while (true) {
                skipWhitespace();
                if (!peek('"')) {
                    throw malformed("expected a quoted field name");
                }
                string();
                skipWhitespace();
                expect(':');
                skipValue();
                skipWhitespace();
                if (peek(',')) {
                    position++;
                } else if (peek('}')) {
                    position++;
                    return;
                } else {
                    throw malformed("expected ',' or '}'");
                }
            }
        }
        scalar();
    }

    private String string() {
        position++;
        StringBuilder value = new StringBuilder();
        while (true) {
            if (position >= text.length()) {
                throw malformed("a string is never closed");
            }
            char c = text.charAt(position++);
            if (c == '"') {
                return value.toString();
            }
            if (c < 0x20) {
                throw malformed("a control character inside a string; write it escaped, e.g. \\n");
            }
            if (c != '\\') {
                value.append(c);
                continue;
            }
            if (position >= text.length()) {
                throw malformed("a string is never closed");
            }
            char escaped = text.charAt(position++);
            switch (escaped) {
                case '"', '\\', '/' -> value.append(escaped);
                case 'b' -> value.append('\b');
                case 'f' -> value.append('\f');
                case 'n' -> value.append('\n');
                case 'r' -> value.append('\r');
                case 't' -> value.append('\t');
                case 'u' -> {
                    if (position + 4 > text.length()) {
                        throw malformed("\\u needs four hex digits");
                    }
                    try {
                        value.append((char) Integer.parseInt(text.substring(position, position + 4), 16));
                    } catch (NumberFormatException e) {
                        throw malformed("\\u needs four hex digits");
                    }
                    position += 4;
                }
                default -> throw malformed("unknown escape \\" + escaped);
            }
        }
    }

    /** A number as RFC 8259 section 6 writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    private Number number() {
        int start = position;
        boolean integral = true;
        if (peek('-')) {
            position++;
        }
        if (peek('0')) {
            position++;
        } else if (position < text.length() && isDigit(text.charAt(position))) {
            digits();
        } else {
            throw malformed("expected a digit");
        }
        if (peek('.')) {
            integral = false;
            position++;
            if (position >= text.length() || !isDigit(text.charAt(position))) {
                throw malformed("expected a digit after '.'");
            }
            digits();
        }
        if (peek('e') || peek('E')) {
            integral = false;
            position++;
            if (peek('+') || peek('-')) {
                position++;
            }
            if (position >= text.length() || !isDigit(text.charAt(position))) {
                throw malformed("expected a digit in the exponent");
            }
            digits();
        }
        String literal = text.substring(start, position);
        if (integral) {
            try {
                return Long.parseLong(literal);
            } catch (NumberFormatException tooLarge) {
                // Beyond a long: kept as the nearest double.
            }
        }
        return Double.parseDouble(literal);
    }

    private void digits() {
        while (position < text.length() && isDigit(text.charAt(position))) {
            position++;
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private boolean peek(char c) {
        return position < text.length() && text.charAt(position) == c;
    }

    private void expect(char c) {
        if (!peek(c)) {
            throw malformed("expected '" + c + "'");
        }
        position++;
    }

    private void skipWhitespace() {
        while (position < text.length()) {
            char c = text.charAt(position);
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
                return;
            }
            position++;
        }
    }

    private MalformedRowException malformed(String problem) {
        return new MalformedRowException(problem + " at column " + (position + 1));
    }
}
