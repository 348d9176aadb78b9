package dev.modalign.api;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The outputs of all towers for one batch, row i of every tower coming from the same record.
 *
 * @param towers tower name to its output
 * @param labels int64 [B] class labels where the data has them, else null
 * @param groups the records' group ids in row order (see {@link DataRecord#group()}): rows with equal ids
 *     are the same item, e.g. several captions of one image; null where the host gives none, which
 *     means each row is its own item
 */
public record EncodedBatch(Map<String, TowerOutput> towers, NDArray labels, List<String> groups) {

    /** A batch without group ids: each row is its own item. */
    public EncodedBatch(Map<String, TowerOutput> towers, NDArray labels) {
        this(towers, labels, null);
    }

    /** The output of a tower; the host checks tower names when it composes a run. */
    public TowerOutput tower(String name) {
        TowerOutput output = towers.get(name);
        if (output == null) {
            throw new IllegalArgumentException("no tower '" + name + "' in this batch; towers: " + towers.keySet());
        }
        return output;
    }

    public Optional<NDArray> labelsIfAny() {
        return Optional.ofNullable(labels);
    }

    /** The group ids, where the host gave them; without them every row is its own item. */
    public Optional<List<String>> groupsIfAny() {
        return Optional.ofNullable(groups);
    }

    public long size() {
        return towers.values().iterator().next().embedding().getShape().get(0);
    }
}
