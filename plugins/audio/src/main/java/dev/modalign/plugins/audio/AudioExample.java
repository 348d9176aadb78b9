package dev.modalign.plugins.audio;

import java.util.Arrays;

/**
 * One decoded recording: the clip (mono samples at the modality's sample rate, as much as the
 * modality keeps), the window the encoder sees (from {@link #windowStart()}, {@code
 * max_seconds} long, padded where the clip is shorter) and that window's log-mel spectrogram.
 *
 * <p>The spectrogram is computed when the example is made, on the loader thread, and again by each
 * augmentation that changes the waveform ({@link #withWindowAt}, {@link #withClip}), so collation
 * only copies it. Immutable: the arrays are never modified after construction and augmentations
 * return new examples. {@link #toString()} is a fingerprint of the content, so equal examples
 * print alike.
 */
public final class AudioExample {

    private final float[] clip;
    private final int windowStart;
    private final float[] features;
    private final int realFrames;
    private final boolean spectrogramMasked;
    private final ClipFeaturizer featurizer;

    AudioExample(float[] clip, int windowStart, float[] features, int realFrames, boolean spectrogramMasked,
            ClipFeaturizer featurizer) {
        if (features.length != featurizer.melBands() * featurizer.frames()) {
            throw new IllegalArgumentException("features hold " + features.length + " values, expected "
                    + featurizer.melBands() + " mel bands x " + featurizer.frames() + " frames");
        }
        this.clip = clip;
        this.windowStart = windowStart;
        this.features = features;
        this.realFrames = realFrames;
        this.spectrogramMasked = spectrogramMasked;
        this.featurizer = featurizer;
    }

    /** The mono clip at {@link #sampleRate()}; read-only. */
    public float[] clip() {
        return clip;
    }

    public int sampleRate() {
        return featurizer.sampleRate();
    }

    /** Where the window starts in the clip, in samples. */
    public int windowStart() {
        return windowStart;
    }

    /** The window's length in samples ({@code max_seconds} at the sample rate). */
    public int windowSamples() {
        return featurizer.windowSamples();
    }

    /** The window's own samples, without padding (a copy). */
    public float[] segment() {
        return featurizer.segment(this);
    }

    /** The log-mel spectrogram, mel-major: band m at frame t is {@code features[m * frames() + t]}; read-only. */
    public float[] features() {
        return features;
    }

    public int melBands() {
        return featurizer.melBands();
    }

    public int frames() {
        return featurizer.frames();
    }

    /** Frames computed from the clip's own samples; the rest of the {@link #frames()} are padding. */
    public int realFrames() {
        return realFrames;
    }

    /** Whether spec-augment has masked the spectrogram, which a waveform change would undo. */
    public boolean spectrogramMasked() {
        return spectrogramMasked;
    }

    /** The same clip with the window starting at {@code start}, its spectrogram computed again. */
    public AudioExample withWindowAt(int start) {
        requireUnmasked("move the window");
        return featurizer.featurize(clip, start);
    }

    /** Another clip at the same sample rate, windowed from {@code start}, its spectrogram computed. */
    public AudioExample withClip(float[] newClip, int start) {
        requireUnmasked("change the waveform");
        return featurizer.featurize(newClip, start);
    }

    /** The same waveform with a changed spectrogram (of the same size), marked as masked. */
    public AudioExample withMaskedFeatures(float[] masked) {
        return new AudioExample(clip, windowStart, masked, realFrames, true, featurizer);
    }

    private void requireUnmasked(String what) {
        if (spectrogramMasked) {
            throw new IllegalStateException("an augmentation tried to " + what + " after spec-augment, which would undo"
                    + " its masks; list spec-augment after the waveform augmentations (random-segment, time-shift, gain)");
        }
    }

    @Override
    public String toString() {
        return "audio[" + clip.length + " samples at " + sampleRate() + " Hz, window from " + windowStart + ", "
                + melBands() + "x" + frames() + " (" + realFrames + " real)" + (spectrogramMasked ? " masked" : "")
                + ", clip#" + Integer.toHexString(Arrays.hashCode(clip)) + ", features#"
                + Integer.toHexString(Arrays.hashCode(features)) + "]";
    }
}
