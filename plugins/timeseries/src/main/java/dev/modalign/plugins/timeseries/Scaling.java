package dev.modalign.plugins.timeseries;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Multiplies each channel of the window by its own factor drawn from N(1, sigma^2) (Um et al.,
 * "Data Augmentation of Wearable Sensor Data for Parkinson's Disease Monitoring using
 * Convolutional Neural Networks", 2017, "scaling"). The result is the window alone.
 */
public final class Scaling implements Augmentation<SeriesExample> {

    /** The parameters of {@code scaling}. */
    public record Params(
            @Doc("Standard deviation of the per-channel factor around 1") @Default("0.1") double sigma,
            @Doc("Probability of scaling an example") @Default("1.0") double p) {

        public Params {
            if (!(sigma > 0) || !Double.isFinite(sigma)) {
                throw new InvalidParamException("sigma", "must be > 0, found " + sigma);
            }
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "must be between 0 and 1, found " + p);
            }
        }
    }

    private final Params params;

    public Scaling(Params params, ComponentContext context) {
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
        int length = values.length / example.channels();
        for (int c = 0; c < example.channels(); c++) {
            float factor = (float) (1 + params.sigma() * rng.nextGaussian());
            for (int t = 0; t < length; t++) {
                values[c * length + t] *= factor;
            }
        }
        return example.withValues(values);
    }
}
