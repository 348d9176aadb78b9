package dev.modalign.plugins.timeseries;

import dev.modalign.api.DataException;
import java.util.Arrays;

/**
 * Parses a series written as JSON: a flat array of numbers ({@code [0.1, 0.2, ...]}), or an array
 * of rows of equal length, one row per time step and one number per channel ({@code [[0.1, 5],
 * [0.2, 6], ...]}), the same orientation as a CSV file. Errors give the character position.
 */
final class JsonSeriesParser {

    /** A parsed array: the numbers in order, and the row length for nested arrays (0 for a flat one). */
    record Parsed(float[] numbers, int rowLength) {}

    private final String text;
    private final String origin;
    private int position;

    private JsonSeriesParser(String text, String origin) {
        this.text = text;
        this.origin = origin;
    }

    static Parsed parse(String text, String origin) {
        JsonSeriesParser parser = new JsonSeriesParser(text, origin);
        Parsed parsed = parser.array();
        parser.skipSpace();
        if (parser.position != text.length()) {
            throw parser.error("unexpected text after the array");
        }
        return parsed;
    }

    private Parsed array() {
        expect('[');
        skipSpace();
        float[] numbers = new float[16];
        int count = 0;
        int rowLength = -1;
        int rows = 0;
        if (peek() == ']') {
            position++;
            throw error("the array is empty");
        }
        boolean nested = peek() == '[';
        while (true) {
            skipSpace();
            if (nested) {
                int rowStart = position;
                Parsed row = rowOfNumbers();
                if (rowLength < 0) {
                    rowLength = row.numbers().length;
                } else if (row.numbers().length != rowLength) {
                    throw new DataException(origin + ": row " + rows + " (at character " + rowStart + ") has "
                            + row.numbers().length + " values, but row 0 has " + rowLength + "; every row is one time"
                            + " step with one value per channel");
                }
                while (count + rowLength > numbers.length) {
                    numbers = Arrays.copyOf(numbers, 2 * numbers.length);
                }
                System.arraycopy(row.numbers(), 0, numbers, count, rowLength);
                count += rowLength;
                rows++;
            } else {
                if (count == numbers.length) {
                    numbers = Arrays.copyOf(numbers, 2 * count);
                }
                numbers[count++] = number();
            }
            skipSpace();
            char next = peek();
            position++;
            if (next == ']') {
                return new Parsed(Arrays.copyOf(numbers, count), nested ? rowLength : 0);
            }
            if (next != ',') {
                position--;
                throw error("expected ',' or ']'");
            }
        }
    }

    private Parsed rowOfNumbers() {
        expect('[');
        float[] numbers = new float[8];
        int count = 0;
        skipSpace();
        if (peek() == ']') {
            throw error("a row is empty");
        }
        while (true) {
            skipSpace();
            if (count == numbers.length) {
                numbers = Arrays.copyOf(numbers, 2 * count);
            }
            numbers[count++] = number();
            skipSpace();
            char next = peek();
            position++;
            if (next == ']') {
                return new Parsed(Arrays.copyOf(numbers, count), 0);
            }
            if (next != ',') {
                position--;
                throw error("expected ',' or ']' in a row (arrays nest two deep at most)");
            }
        }
    }

    private float number() {
        int start = position;
        while (position < text.length() && "+-0123456789.eE".indexOf(text.charAt(position)) >= 0) {
            position++;
        }
        String token = text.substring(start, position);
        try {
            float value = Float.parseFloat(token);
            if (token.isEmpty() || !Float.isFinite(value)) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            position = start;
            throw error("expected a finite number");
        }
    }

    private void expect(char c) {
        skipSpace();
        if (peek() != c) {
            throw error("expected '" + c + "'");
        }
        position++;
    }

    private char peek() {
        return position < text.length() ? text.charAt(position) : '\0';
    }

    private void skipSpace() {
        while (position < text.length() && Character.isWhitespace(text.charAt(position))) {
            position++;
        }
    }

    private DataException error(String what) {
        String near = text.substring(position, Math.min(text.length(), position + 12));
        return new DataException(origin + ": the JSON series has " + what + " at character " + position
                + (near.isEmpty() ? " (the end)" : " ('" + near + "')"));
    }
}
