package dev.modalign.api;

/** Images collated as one float32 NDArray [B, channels, height, width], normalised. */
public record ImageSpec(int channels, int height, int width) implements InputSpec {
    @Override
    public String kind() {
        return "image";
    }
}
