package dev.modalign.api;

/** Fixed-size feature vectors collated as one float32 NDArray [B, size]. */
public record VectorSpec(int size) implements InputSpec {
    @Override
    public String kind() {
        return "vector";
    }
}
