package dev.modalign.api;

import ai.djl.ndarray.NDArray;
import java.util.Map;
import java.util.Optional;

/**
 * The outputs of all towers for one batch, row i of every tower coming from the same record.
 *
 * @param towers tower name to its output
 * @param labels int64 [B] class labels where the data has them, else null
 */
public record EncodedBatch(Map<String, TowerOutput> towers, NDArray labels) {

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

    public long size() {
        return towers.values().iterator().next().embedding().getShape().get(0);
    }
}
