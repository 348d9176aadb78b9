package dev.modalign.plugins.webdataset;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Expands a WebDataset shard pattern into shard names, as the {@code braceexpand} package that
 * WebDataset uses does: {@code train-{000000..000009}.tar} is ten names, zero padding kept;
 * {@code {a,b}} lists alternatives; braces nest and several braces multiply; {@code {0..20..5}}
 * steps; {@code ::} joins patterns. Unlike the shell, a brace that is neither a list nor a range is
 * an error, not text: a shard name holding braces is far less likely than a typo.
 */
final class ShardPattern {

    /** More names than this is a typo in a range, not a data set. */
    static final int MAX_SHARDS = 1_000_000;

    private static final Pattern RANGE = Pattern.compile("(\\d+)\\.\\.(\\d+)(?:\\.\\.(\\d+))?");

    private ShardPattern() {}

    /**
     * The names a pattern stands for, in the pattern's order.
     *
     * @throws IllegalArgumentException saying what is wrong and where (a column of the pattern)
     */
    static List<String> expand(String pattern) {
        List<String> names = new ArrayList<>();
        for (String part : pattern.split("::", -1)) {
            String trimmed = part.strip();
            if (trimmed.isEmpty()) {
                throw new IllegalArgumentException("has an empty pattern between '::' separators");
            }
            names.addAll(expand(trimmed, 0));
            if (names.size() > MAX_SHARDS) {
                throw new IllegalArgumentException("expands to more than " + MAX_SHARDS + " shards; check its ranges");
            }
        }
        return names;
    }

    /** @param column the column of {@code text}'s first character in the whole pattern, for messages */
    private static List<String> expand(String text, int column) {
        int open = text.indexOf('{');
        int strayClose = text.indexOf('}');
        if (strayClose >= 0 && (open < 0 || strayClose < open)) {
            throw new IllegalArgumentException("has a '}' without its '{' at column " + (column + strayClose + 1));
        }
        if (open < 0) {
            return List.of(text);
        }
        int close = matchingClose(text, open, column);
        String prefix = text.substring(0, open);
        String inner = text.substring(open + 1, close);
        List<String> alternatives = alternatives(inner, column + open + 1);
        List<String> suffixes = expand(text.substring(close + 1), column + close + 1);
        List<String> names = new ArrayList<>();
        for (String alternative : alternatives) {
            for (String suffix : suffixes) {
                names.add(prefix + alternative + suffix);
                if (names.size() > MAX_SHARDS) {
                    throw new IllegalArgumentException("expands to more than " + MAX_SHARDS + " shards; check its ranges");
                }
            }
        }
        return names;
    }

    private static int matchingClose(String text, int open, int column) {
        int depth = 0;
        for (int i = open; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '{') {
                depth++;
            } else if (c == '}' && --depth == 0) {
                return i;
            }
        }
        throw new IllegalArgumentException("has a '{' at column " + (column + open + 1) + " that is never closed");
    }

    /** The names inside one pair of braces: a comma list (each item expanded in turn) or a range. */
    private static List<String> alternatives(String inner, int column) {
        List<String> items = splitTopLevelCommas(inner);
        if (items.size() > 1) {
            List<String> names = new ArrayList<>();
            int itemColumn = column;
            for (String item : items) {
                names.addAll(expand(item, itemColumn));
                itemColumn += item.length() + 1;
            }
            return names;
        }
        Matcher range = RANGE.matcher(inner);
        if (!range.matches()) {
            throw new IllegalArgumentException("has '{" + inner + "}' at column " + column + ", which is neither a list"
                    + " like {a,b} nor a range like {000000..000099}");
        }
        return range(range.group(1), range.group(2), range.group(3), column);
    }

    private static List<String> splitTopLevelCommas(String inner) {
        List<String> items = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < inner.length(); i++) {
            char c = inner.charAt(i);
            if (c == '{') {
                depth++;
            } else if (c == '}') {
                depth--;
            } else if (c == ',' && depth == 0) {
                items.add(inner.substring(start, i));
                start = i + 1;
            }
        }
        items.add(inner.substring(start));
        return items;
    }

    /**
     * A numeric range, ascending or descending, both ends included. As in braceexpand, numbers are
     * zero-padded to the wider end's width when either end is written with a leading zero.
     */
    private static List<String> range(String from, String to, String step, int column) {
        long first;
        long last;
        long increment;
        try {
            first = Long.parseLong(from);
            last = Long.parseLong(to);
            increment = step == null ? 1 : Long.parseLong(step);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("has a range at column " + column + " whose numbers are too large");
        }
        if (increment == 0) {
            throw new IllegalArgumentException("has a range at column " + column + " with a step of 0");
        }
        if (Math.abs(last - first) / increment >= MAX_SHARDS) {
            throw new IllegalArgumentException("expands to more than " + MAX_SHARDS + " shards; check its ranges");
        }
        boolean padded = (from.length() > 1 && from.startsWith("0")) || (to.length() > 1 && to.startsWith("0"));
        String format = padded ? "%0" + Math.max(from.length(), to.length()) + "d" : "%d";
        List<String> names = new ArrayList<>();
        long direction = last >= first ? 1 : -1;
        for (long value = first; direction * (last - value) >= 0; value += direction * increment) {
            names.add(String.format(Locale.ROOT, format, value));
        }
        return names;
    }
}
