package dev.modalign.api;

/**
 * Token sequences collated as NDList(ids int32 [B, T], mask float32 [B, T]) where mask is 1 for
 * real tokens and 0 for padding; T is at most {@code maxLength}.
 */
public record TokenSpec(int vocabularySize, int maxLength, int padId, int maskId) implements InputSpec {
    @Override
    public String kind() {
        return "tokens";
    }
}
