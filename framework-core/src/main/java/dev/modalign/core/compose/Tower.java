package dev.modalign.core.compose;

import dev.modalign.api.Augmentation;
import dev.modalign.api.Encoder;
import dev.modalign.api.Modality;
import java.util.List;

/**
 * A tower of a run: the record field it reads, its modality, its augmentations and its encoder.
 *
 * @param name the tower's name in the experiment
 * @param field the record field it reads
 * @param frozen whether its encoder stays out of the optimiser
 * @param initFrom the checkpoint its encoder starts from (see TowerSpec.initFrom), or null
 */
public record Tower(String name, String field, Modality<?> modality, List<Augmentation<?>> augmentations,
        Encoder encoder, boolean frozen, String initFrom) {

    /** This tower reading another record field. */
    public Tower reading(String otherField) {
        return otherField.equals(field) ? this : new Tower(name, otherField, modality, augmentations, encoder, frozen, initFrom);
    }
}
