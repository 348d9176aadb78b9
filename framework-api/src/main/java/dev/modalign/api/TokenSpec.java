package dev.modalign.api;

import java.util.Set;

/**
 * Token sequences collated as NDList(ids int32 [B, T], mask float32 [B, T]) where mask is 1 for
 * real tokens and 0 for padding; T is at most {@code maxLength}.
 *
 * @param vocabularySize ids are in [0, vocabularySize)
 * @param maxLength the most ids per sequence, special tokens included
 * @param padId the id after a sequence's end
 * @param maskId the id that stands for a masked token
 * @param specialIds every id that is not a token of the text (padding, mask, [CLS], [SEP], unknown,
 *     ...): augmentations never drop or mask these
 */
public record TokenSpec(int vocabularySize, int maxLength, int padId, int maskId, Set<Integer> specialIds)
        implements InputSpec {

    public TokenSpec {
        specialIds = Set.copyOf(specialIds);
    }

    /** A spec whose only special ids are the padding and mask ids. */
    public TokenSpec(int vocabularySize, int maxLength, int padId, int maskId) {
        this(vocabularySize, maxLength, padId, maskId, Set.of(padId, maskId).size() == 1 ? Set.of(padId)
                : Set.of(padId, maskId));
    }

    /** Whether {@code id} is a token of the text rather than a special id. */
    public boolean isText(int id) {
        return !specialIds.contains(id);
    }

    @Override
    public String kind() {
        return "tokens";
    }
}
