package dev.modalign.plugins.softmultilabel;

import java.util.List;
import java.util.TreeSet;

/**
 * The classes of one record, as ascending distinct indices: the example of the {@code multi-hot}
 * modality, collated to a multi-hot row.
 *
 * @param classes the class indices, each in [0, the modality's classes)
 */
public record LabelSet(List<Integer> classes) {

    public LabelSet {
        classes = List.copyOf(new TreeSet<>(classes));
    }
}
