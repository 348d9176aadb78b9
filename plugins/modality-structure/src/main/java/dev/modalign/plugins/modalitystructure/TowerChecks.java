package dev.modalign.plugins.modalitystructure;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.InvalidParamException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** The checks of a loss's towers that the three regularisers share, with the messages a user acts on. */
final class TowerChecks {

    private TowerChecks() {}

    /** The towers, when there are between min and max of them and none is named twice. */
    static List<String> distinct(ComponentContext context, String loss, int min, int max, String example) {
        List<String> towers = context.towers();
        if (towers.size() < min || towers.size() > max) {
            String count = min == max ? "exactly " + min : min + (max == Integer.MAX_VALUE ? " or more" : " to " + max);
            throw new InvalidParamException("towers", loss + " reads " + count + " towers, found " + towers
                    + "; name them, e.g. " + example);
        }
        Set<String> seen = new HashSet<>();
        for (String tower : towers) {
            if (!seen.add(tower)) {
                throw new InvalidParamException("towers", loss + " names each tower once, found '" + tower + "' twice in "
                        + towers);
            }
        }
        return List.copyOf(towers);
    }

    /** Fails when the towers' embeddings have different sizes (a tower whose encoder failed is skipped). */
    static void sameEmbedDim(ComponentContext context, String loss, List<String> towers) {
        String sized = null;
        for (String tower : towers) {
            Integer dim = embedDim(context, tower);
            if (dim == null) {
                continue;
            }
            if (sized == null) {
                sized = tower;
            } else if (dim != context.embedDim(sized)) {
                throw new InvalidParamException("towers", loss + " compares embeddings in one space, but tower '" + sized
                        + "' embeds in " + context.embedDim(sized) + " dimensions and '" + tower + "' in " + dim
                        + "; give their encoders the same embed_dim");
            }
        }
    }

    /** A tower's embedding size, or null where the host has none (its encoder failed, reported on its own). */
    static Integer embedDim(ComponentContext context, String tower) {
        try {
            return context.embedDim(tower);
        } catch (IllegalArgumentException | IllegalStateException e) {
            return null;
        }
    }
}
