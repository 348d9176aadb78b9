package dev.modalign.plugins.timeseries;

import dev.modalign.api.InputSpec;

/**
 * Series collated as float32 [B, channels, length], channels first as 1-D convolutions read them;
 * for encoders that know this spec (none of the built-in ones does: use layout flat for mlp or
 * image for cnn).
 */
public record SeriesSpec(int channels, int length) implements InputSpec {
    @Override
    public String kind() {
        return "series";
    }
}
