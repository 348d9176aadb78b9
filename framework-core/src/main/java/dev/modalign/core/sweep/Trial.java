package dev.modalign.core.sweep;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * One trial of a sweep: the experiment file with some values replaced.
 *
 * @param index 1-based, in expansion order
 * @param assignments parameter path to its value as YAML text, in the sweep's order; without the seed
 * @param seed the trial's seed, or null for the file's
 * @param labels a short name for a value that is a whole component ({type: siglip, ...} is "siglip"),
 *     by path; values without one are named by their text
 */
public record Trial(int index, Map<String, String> assignments, Long seed, Map<String, String> labels) {

    public Trial {
        assignments = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(assignments));
        labels = Map.copyOf(labels);
    }

    public Trial(int index, Map<String, String> assignments, Long seed) {
        this(index, assignments, seed, Map.of());
    }

    /** The {@code --set} assignments that make this trial from the file. */
    public List<String> setArguments() {
        List<String> sets = new java.util.ArrayList<>();
        assignments.forEach((path, value) -> sets.add(path + "=" + value));
        if (seed != null) {
            sets.add("seed=" + seed);
        }
        return sets;
    }

    /** What distinguishes this trial's configuration from the others', seeds aside ("" when only seeds vary). */
    public String group() {
        return assignments.entrySet().stream().map(e -> e.getKey() + "=" + labels.getOrDefault(e.getKey(), e.getValue()))
                .collect(Collectors.joining(" "));
    }

    /** The trial as a person reads it: its values and seed. */
    public String label() {
        String group = group();
        String seedPart = seed == null ? "" : "seed=" + seed;
        return group.isEmpty() ? seedPart : seedPart.isEmpty() ? group : group + " " + seedPart;
    }

    /** "trial-007" for the 7th of up to 999 trials. */
    public String name(int trials) {
        int width = Math.max(2, Integer.toString(trials).length());
        return "trial-" + String.format("%0" + width + "d", index);
    }
}
