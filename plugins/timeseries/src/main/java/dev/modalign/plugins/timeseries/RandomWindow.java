package dev.modalign.plugins.timeseries;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Moves the window to a uniformly random start among the multiples of the modality's stride that
 * keep it inside the record, so training sees every part of records longer than the window (the
 * random cropping of Le Guennec et al., "Data Augmentation for Time Series Classification using
 * Convolutional Neural Networks", 2016), while evaluation, which is not augmented, keeps the
 * modality's position. A record no longer than the window is returned as it is. Put it first: the
 * other augmentations work on the window it picks.
 */
public final class RandomWindow implements Augmentation<SeriesExample> {

    /** The parameters of {@code random-window}. */
    public record Params(@Doc("Probability of moving the window") @Default("1.0") double p) {
        public Params {
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "must be between 0 and 1, found " + p);
            }
        }
    }

    private final Params params;

    public RandomWindow(Params params, ComponentContext context) {
        this.params = params;
    }

    @Override
    public Class<SeriesExample> exampleType() {
        return SeriesExample.class;
    }

    @Override
    public SeriesExample apply(SeriesExample example, Random rng) {
        int slack = example.length() - example.windowLength();
        if (slack <= 0 || rng.nextDouble() >= params.p()) {
            return example;
        }
        int starts = slack / example.stride() + 1;
        return example.withWindowAt(rng.nextInt(starts) * example.stride());
    }
}
