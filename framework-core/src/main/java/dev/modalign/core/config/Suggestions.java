package dev.modalign.core.config;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/** Finds the known names closest to a misspelt one, for "did you mean" hints. */
public final class Suggestions {

    private Suggestions() {}

    /** The known names within a small edit distance of {@code name}, closest first (at most three). */
    public static List<String> closest(String name, Collection<String> known) {
        int limit = Math.max(2, name.length() / 3);
        return known.stream()
                .filter(candidate -> {
                    int d = distance(name.toLowerCase(), candidate.toLowerCase());
                    // A name that must be rewritten entirely ('c' for 'a') is no near miss.
                    return (d <= limit && d < Math.min(name.length(), candidate.length()))
                            || (name.length() > 2 && (candidate.startsWith(name) || name.startsWith(candidate)));
                })
                .sorted(Comparator.comparingInt((String candidate) -> distance(name, candidate)).thenComparing(c -> c))
                .limit(3)
                .toList();
    }

    /** ", did you mean 'x'?" or ", did you mean one of 'x', 'y'?", or "" when nothing is close. */
    public static String didYouMean(String name, Collection<String> known) {
        List<String> close = closest(name, known);
        if (close.isEmpty()) {
            return "";
        }
        return close.size() == 1
                ? ", did you mean '" + close.get(0) + "'?"
                : ", did you mean one of " + String.join(", ", close.stream().map(c -> "'" + c + "'").toList()) + "?";
    }

    /** Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions). */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
