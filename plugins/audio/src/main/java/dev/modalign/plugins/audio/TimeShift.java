package dev.modalign.plugins.audio;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Shifts the window's waveform in time by a uniformly random amount in [-max_seconds,
 * max_seconds]: rolled around (what leaves the end comes back at the start, as numpy's roll) or
 * with silence where it moved away from. The result is the shifted window alone (the rest of the
 * clip is dropped), so put random-segment before it.
 */
public final class TimeShift implements Augmentation<AudioExample> {

    /** What fills the place the waveform moved away from. */
    public enum Mode {
        /** The waveform wraps around. */
        ROLL,
        /** Silence. */
        ZERO
    }

    /** The parameters of {@code time-shift}. */
    public record Params(
            @Doc("Largest shift either way, in seconds") @Default("0.5") double maxSeconds,
            @Doc("roll (wrap around) or zero (fill with silence)") @Default("roll") Mode mode,
            @Doc("Probability of shifting an example") @Default("1.0") double p) {

        public Params {
            if (!(maxSeconds > 0) || !Double.isFinite(maxSeconds)) {
                throw new InvalidParamException("max_seconds", "must be > 0, found " + maxSeconds);
            }
            if (mode == null) {
                throw new InvalidParamException("mode", "must be roll or zero, found nothing");
            }
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "must be between 0 and 1, found " + p);
            }
        }
    }

    private final Params params;

    public TimeShift(Params params, ComponentContext context) {
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
        int most = (int) Math.round(params.maxSeconds() * example.sampleRate());
        int shift = rng.nextInt(2 * most + 1) - most;
        float[] segment = example.segment();
        int n = segment.length;
        if (shift == 0 || n <= 1) {
            return example.withClip(segment, 0);
        }
        return example.withClip(shifted(segment, shift, params.mode()), 0);
    }

    /** {@code out[i] = in[i - shift]}, wrapping or zero outside. */
    static float[] shifted(float[] in, int shift, Mode mode) {
        int n = in.length;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            int from = i - shift;
            if (mode == Mode.ROLL) {
                out[i] = in[Math.floorMod(from, n)];
            } else if (from >= 0 && from < n) {
                out[i] = in[from];
            }
        }
        return out;
    }
}
