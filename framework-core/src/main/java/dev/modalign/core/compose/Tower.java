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
 * @param momentumOf the tower whose momentum (EMA) copy this one is, or null (see TowerSpec.momentumOf); such a
 *     tower is also frozen: its weights change only by the momentum update
 * @param momentum the momentum m of that update
 */
public record Tower(String name, String field, Modality<?> modality, List<Augmentation<?>> augmentations,
        Encoder encoder, boolean frozen, String initFrom, String momentumOf, double momentum) {

    /** A tower of its own, not a momentum copy. */
    public Tower(String name, String field, Modality<?> modality, List<Augmentation<?>> augmentations,
            Encoder encoder, boolean frozen, String initFrom) {
        this(name, field, modality, augmentations, encoder, frozen, initFrom, null, 0);
    }

    /** Whether this tower is the momentum copy of another. */
    public boolean isMomentum() {
        return momentumOf != null;
    }

    /** This tower reading another record field. */
    public Tower reading(String otherField) {
        return otherField.equals(field) ? this : new Tower(name, otherField, modality, augmentations, encoder, frozen,
                initFrom, momentumOf, momentum);
    }
}
