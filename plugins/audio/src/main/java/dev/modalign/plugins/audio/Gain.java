package dev.modalign.plugins.audio;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Scales the waveform by a gain drawn uniformly in decibels from [min_db, max_db] (amplitude
 * factor 10^(g / 20)), so the model does not key on recording level. Samples are not clipped: the
 * log-mel front end has no range to overflow. The log-mel power moves by g / 10 * ln(10) where the
 * signal is well above the 1e-6 floor.
 */
public final class Gain implements Augmentation<AudioExample> {

    /** The parameters of {@code gain}. */
    public record Params(
            @Doc("Lowest gain, in dB") @Default("-6.0") double minDb,
            @Doc("Highest gain, in dB") @Default("6.0") double maxDb,
            @Doc("Probability of changing an example's gain") @Default("1.0") double p) {

        public Params {
            if (!Double.isFinite(minDb) || !Double.isFinite(maxDb) || minDb > maxDb) {
                throw new InvalidParamException("min_db", "must be finite and <= max_db, found [" + minDb + ", " + maxDb + "]");
            }
            if (Math.max(Math.abs(minDb), Math.abs(maxDb)) > 60) {
                throw new InvalidParamException("max_db", "gains beyond +-60 dB are not augmentation, found [" + minDb
                        + ", " + maxDb + "]");
            }
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "must be between 0 and 1, found " + p);
            }
        }
    }

    private final Params params;

    public Gain(Params params, ComponentContext context) {
        this.params = params;
    }

    @Override
    public Class<AudioExample> exampleType() {
        return AudioExample.class;
    }

    @Override
    public AudioExample apply(AudioExample example, Random rng) {
        if (rng.nextDouble() >= params.p()) {
            return example;
        }
        double db = params.minDb() + rng.nextDouble() * (params.maxDb() - params.minDb());
        float factor = (float) Math.pow(10, db / 20);
        float[] clip = example.clip();
        float[] scaled = new float[clip.length];
        for (int i = 0; i < clip.length; i++) {
            scaled[i] = clip[i] * factor;
        }
        return example.withClip(scaled, example.windowStart());
    }
}
