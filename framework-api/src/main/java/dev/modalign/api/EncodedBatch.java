package dev.modalign.api;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
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
 * @param inputs tower name to the batch its modality collated (after augmentation), as its encoder read it:
 *     e.g. a text tower's NDList(ids int32 [B, T], mask [B, T]). For losses that score the input itself: a
 *     captioning decoder's target tokens (CoCa), a masked-modelling loss's patches. Owned by the step, not
 *     differentiable; null where the host gives none (API 1.2 and before). Since API 1.3.
 */
public record EncodedBatch(Map<String, TowerOutput> towers, NDArray labels, List<String> groups,
        Map<String, NDList> inputs) {

    /** A batch without group ids: each row is its own item. */
    public EncodedBatch(Map<String, TowerOutput> towers, NDArray labels) {
        this(towers, labels, null, null);
    }

    /** A batch without the towers' inputs. */
    public EncodedBatch(Map<String, TowerOutput> towers, NDArray labels, List<String> groups) {
        this(towers, labels, groups, null);
    }

    /** The output of a tower; the host checks tower names when it composes a run. */
    public TowerOutput tower(String name) {
        TowerOutput output = towers.get(name);
        if (output == null) {
            throw new IllegalArgumentException("no tower '" + name + "' in this batch; towers: " + towers.keySet());
        }
        return output;
    }

    /**
     * The batch a tower's modality collated, as its encoder read it (see {@link #inputs()}).
     *
     * @throws IllegalArgumentException when the host gave no inputs or none for this tower
     */
    public NDList input(String name) {
        NDList input = inputs == null ? null : inputs.get(name);
        if (input == null) {
            throw new IllegalArgumentException("no input of tower '" + name + "' in this batch; "
                    + (inputs == null ? "the host gives no tower inputs (it implements API 1.2 or older)"
                            : "inputs: " + inputs.keySet()));
        }
        return input;
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
