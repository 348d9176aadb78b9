package dev.modalign.plugins.audio;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Time and frequency masking of the log-mel spectrogram (Park et al., "SpecAugment: A Simple Data
 * Augmentation Method for Automatic Speech Recognition", 2019, section 2; time warping is not
 * done): {@code freq_masks} bands of f consecutive mel bins, f uniform in [0, max_freq_width], and
 * {@code time_masks} spans of t consecutive frames, t uniform in [0, max_time_width], each at a
 * uniform position, set to the mean of the example's real frames (the paper's zero after
 * normalisation). Time masks fall within the real frames. List it after the waveform
 * augmentations: a waveform change afterwards would recompute the spectrogram and is refused.
 */
public final class SpecAugment implements Augmentation<AudioExample> {

    /** The parameters of {@code spec-augment}. */
    public record Params(
            @Doc("Number of frequency masks") @Default("2") int freqMasks,
            @Doc("Largest width of a frequency mask, in mel bands (the paper's F)") @Default("8") int maxFreqWidth,
            @Doc("Number of time masks") @Default("2") int timeMasks,
            @Doc("Largest width of a time mask, in frames (the paper's T)") @Default("40") int maxTimeWidth) {

        public Params {
            if (freqMasks < 0 || timeMasks < 0) {
                throw new InvalidParamException(freqMasks < 0 ? "freq_masks" : "time_masks", "must be >= 0, found "
                        + Math.min(freqMasks, timeMasks));
            }
            if (maxFreqWidth < 0) {
                throw new InvalidParamException("max_freq_width", "must be >= 0, found " + maxFreqWidth);
            }
            if (maxTimeWidth < 0) {
                throw new InvalidParamException("max_time_width", "must be >= 0, found " + maxTimeWidth);
            }
        }
    }

    private final Params params;

    public SpecAugment(Params params, ComponentContext context) {
        this.params = params;
    }

    @Override
    public Class<AudioExample> exampleType() {
        return AudioExample.class;
    }

    @Override
    public AudioExample apply(AudioExample example, Random rng) {
        int bands = example.melBands();
        int frames = example.frames();
        int real = Math.max(1, example.realFrames());
        float[] features = example.features().clone();
        double sum = 0;
        for (int m = 0; m < bands; m++) {
            for (int t = 0; t < real; t++) {
                sum += features[m * frames + t];
            }
        }
        float fill = (float) (sum / ((double) bands * real));
        for (int mask = 0; mask < params.freqMasks(); mask++) {
            int width = Math.min(bands, rng.nextInt(params.maxFreqWidth() + 1));
            int from = rng.nextInt(bands - width + 1);
            for (int m = from; m < from + width; m++) {
                java.util.Arrays.fill(features, m * frames, (m + 1) * frames, fill);
            }
        }
        for (int mask = 0; mask < params.timeMasks(); mask++) {
            int width = Math.min(real, rng.nextInt(params.maxTimeWidth() + 1));
            int from = rng.nextInt(real - width + 1);
            for (int m = 0; m < bands; m++) {
                java.util.Arrays.fill(features, m * frames + from, m * frames + from + width, fill);
            }
        }
        return example.withMaskedFeatures(features);
    }
}
