package dev.modalign.core.report;

import java.util.Comparator;
import java.util.List;

/** Orders values as a reader expects: numbers by value (2 before 10, 0.001 before 0.01), the rest as text. */
final class NaturalOrder {

    static final Comparator<String> VALUES = NaturalOrder::compare;

    /** Element by element, the shorter list first when one is a prefix of the other. */
    static final Comparator<List<String>> LISTS = (a, b) -> {
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            int order = compare(a.get(i), b.get(i));
            if (order != 0) {
                return order;
            }
        }
        return Integer.compare(a.size(), b.size());
    };

    private NaturalOrder() {}

    static int compare(String a, String b) {
        Double x = number(a);
        Double y = number(b);
        if (x != null && y != null) {
            int order = Double.compare(x, y);
            return order != 0 ? order : a.compareTo(b);
        }
        if (x != null || y != null) {
            return x != null ? -1 : 1;
        }
        return a.compareTo(b);
    }

    private static Double number(String text) {
        try {
            return Double.valueOf(text.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
