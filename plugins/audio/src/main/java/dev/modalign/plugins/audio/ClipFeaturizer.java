package dev.modalign.plugins.audio;

import java.util.Arrays;

/**
 * Turns a clip (mono samples at the modality's rate) into the example the encoder sees: the
 * window of {@code windowSamples} samples from a start, filled per {@link PadMode} where the clip
 * ends before the window does, and its {@link LogMelSpectrogram}. Every example of a modality has
 * the same number of frames, 1 + windowSamples / hop.
 *
 * <p>Real frames are those the clip's own samples would give alone: 1 + (real samples) / hop,
 * at most all of them. With {@code repeat} padding the frames after them hold repeats of the
 * clip, with {@code zero} padding silence (ln 1e-6).
 *
 * <p>Immutable and shared by every example of a modality, so that an augmentation that changes
 * the waveform can compute the features again as the modality would.
 */
final class ClipFeaturizer {

    private final int sampleRate;
    private final int windowSamples;
    private final PadMode padMode;
    private final LogMelSpectrogram spectrogram;

    ClipFeaturizer(int sampleRate, int windowSamples, PadMode padMode, LogMelSpectrogram spectrogram) {
        this.sampleRate = sampleRate;
        this.windowSamples = windowSamples;
        this.padMode = padMode;
        this.spectrogram = spectrogram;
    }

    int sampleRate() {
        return sampleRate;
    }

    int windowSamples() {
        return windowSamples;
    }

    int melBands() {
        return spectrogram.melBands();
    }

    int frames() {
        return spectrogram.frames(windowSamples);
    }

    /** The example of {@code clip} with its window starting at sample {@code start}. */
    AudioExample featurize(float[] clip, int start) {
        if (clip.length == 0) {
            throw new IllegalArgumentException("a clip needs at least one sample");
        }
        if (start < 0 || start >= clip.length) {
            throw new IllegalArgumentException("window start " + start + " outside the clip of " + clip.length + " samples");
        }
        int real = Math.min(windowSamples, clip.length - start);
        float[] features;
        if (real == windowSamples) {
            features = spectrogram.compute(clip, start, windowSamples);
        } else {
            features = spectrogram.compute(window(clip, start, real), 0, windowSamples);
        }
        int realFrames = Math.min(frames(), spectrogram.frames(real));
        return new AudioExample(clip, start, features, realFrames, false, this);
    }

    /** The {@code real} samples from {@code start}, padded to the window per the pad mode. */
    private float[] window(float[] clip, int start, int real) {
        float[] window = new float[windowSamples];
        System.arraycopy(clip, start, window, 0, real);
        if (padMode == PadMode.REPEAT) {
            for (int filled = real; filled < windowSamples; filled += real) {
                System.arraycopy(clip, start, window, filled, Math.min(real, windowSamples - filled));
            }
        }
        return window;
    }

    /** The samples of the example's window, unpadded: at most {@code windowSamples}. */
    float[] segment(AudioExample example) {
        float[] clip = example.clip();
        int start = example.windowStart();
        return Arrays.copyOfRange(clip, start, Math.min(clip.length, start + windowSamples));
    }
}
