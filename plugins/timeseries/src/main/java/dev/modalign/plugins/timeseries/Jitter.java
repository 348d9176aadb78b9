package dev.modalign.plugins.timeseries;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Adds independent Gaussian noise of standard deviation {@code sigma} to every value of the window
 * (Um et al., "Data Augmentation of Wearable Sensor Data for Parkinson's Disease Monitoring using
 * Convolutional Neural Networks", 2017, "jittering"). Sigma is in the modality's normalised units.
 * The result is the window alone (padding stays zero).
 */
public final class Jitter implements Augmentation<SeriesExample> {

    /** The parameters of {@code jitter}. */
    public record Params(
            @Doc("Standard deviation of the noise, in normalised units") @Default("0.03") double sigma,
            @Doc("Probability of jittering an example") @Default("1.0") double p) {

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

    public Jitter(Params params, ComponentContext context) {
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
        for (int i = 0; i < values.length; i++) {
            values[i] += (float) (params.sigma() * rng.nextGaussian());
        }
        return example.withValues(values);
    }
}
