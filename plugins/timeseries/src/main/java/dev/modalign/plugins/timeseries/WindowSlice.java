package dev.modalign.plugins.timeseries;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Window slicing (Le Guennec et al., "Data Augmentation for Time Series Classification using
 * Convolutional Neural Networks", 2016): a random slice of {@code ratio} of the window's real time
 * steps, stretched back to their number by linear interpolation, so that the pattern is seen
 * slightly zoomed and shifted. The result is the window alone.
 */
public final class WindowSlice implements Augmentation<SeriesExample> {

    /** The parameters of {@code window-slice}. */
    public record Params(
            @Doc("Share of the window the slice keeps, 0 < ratio < 1 (the paper uses 0.9)") @Default("0.9") double ratio,
            @Doc("Probability of slicing an example") @Default("1.0") double p) {

        public Params {
            if (!(ratio > 0 && ratio < 1)) {
                throw new InvalidParamException("ratio", "must be between 0 and 1 (exclusive), found " + ratio);
            }
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "must be between 0 and 1, found " + p);
            }
        }
    }

    private final Params params;

    public WindowSlice(Params params, ComponentContext context) {
        this.params = params;
    }

    @Override
    public Class<SeriesExample> exampleType() {
        return SeriesExample.class;
    }

    @Override
    public SeriesExample apply(SeriesExample example, Random rng) {
        if (rng.nextDouble() >= params.p()) {
            return example;
        }
        float[] values = example.realWindow();
        int channels = example.channels();
        int length = values.length / channels;
        int slice = Math.max(1, (int) Math.ceil(params.ratio() * length));
        if (slice >= length) {
            return example;
        }
        int from = rng.nextInt(length - slice + 1);
        float[] out = new float[values.length];
        for (int c = 0; c < channels; c++) {
            for (int t = 0; t < length; t++) {
                // Output step t reads the slice at the same relative position: the slice's ends map to the window's.
                double position = from + (length == 1 ? 0 : (double) t * (slice - 1) / (length - 1));
                out[c * length + t] = TimeWarp.interpolate(values, c * length, length, position);
            }
        }
        return example.withValues(out);
    }
}
