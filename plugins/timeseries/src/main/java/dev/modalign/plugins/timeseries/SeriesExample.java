package dev.modalign.plugins.timeseries;

import java.util.Arrays;

/**
 * One decoded multichannel series, normalised as its modality says, and the window of it the
 * encoder sees: {@link #windowLength()} time steps from {@link #windowStart()}, padded with zeros
 * where the series ends first.
 *
 * <p>Values are channel-major: channel c at time t is {@code values[c * length + t]}. Immutable:
 * the array is never modified after construction and augmentations return new examples. {@link
 * #toString()} is a fingerprint of the content, so equal examples print alike.
 */
public final class SeriesExample {

    private final float[] values;
    private final int channels;
    private final int length;
    private final int windowLength;
    private final int stride;
    private final int windowStart;

    SeriesExample(float[] values, int channels, int windowLength, int stride, int windowStart) {
        if (channels < 1 || values.length == 0 || values.length % channels != 0) {
            throw new IllegalArgumentException(values.length + " values do not make " + channels + " channels of at least"
                    + " one time step");
        }
        this.values = values;
        this.channels = channels;
        this.length = values.length / channels;
        if (windowStart < 0 || windowStart >= length) {
            throw new IllegalArgumentException("window start " + windowStart + " outside a series of " + length + " steps");
        }
        this.windowLength = windowLength;
        this.stride = stride;
        this.windowStart = windowStart;
    }

    /** All values, channel-major; read-only. */
    public float[] values() {
        return values;
    }

    public int channels() {
        return channels;
    }

    /** Time steps of the whole series. */
    public int length() {
        return length;
    }

    /** Time steps the encoder sees. */
    public int windowLength() {
        return windowLength;
    }

    /** Window starts a random window may take are multiples of it. */
    public int stride() {
        return stride;
    }

    public int windowStart() {
        return windowStart;
    }

    /** Time steps of the window that hold the series; the rest, up to {@link #windowLength()}, is padding. */
    public int realLength() {
        return Math.min(windowLength, length - windowStart);
    }

    /** The window's values, channel-major [channels x windowLength], zero after {@link #realLength()}. */
    public float[] window() {
        float[] out = new float[channels * windowLength];
        int real = realLength();
        for (int c = 0; c < channels; c++) {
            System.arraycopy(values, c * length + windowStart, out, c * windowLength, real);
        }
        return out;
    }

    /** The window's real values only, channel-major [channels x realLength()]. */
    public float[] realWindow() {
        int real = realLength();
        if (windowStart == 0 && real == length) {
            return values.clone();
        }
        float[] out = new float[channels * real];
        for (int c = 0; c < channels; c++) {
            System.arraycopy(values, c * length + windowStart, out, c * real, real);
        }
        return out;
    }

    /** The same series with the window from {@code start}. */
    public SeriesExample withWindowAt(int start) {
        return new SeriesExample(values, channels, windowLength, stride, start);
    }

    /** Another series (channel-major, the same channels) in the same window settings, windowed from its start. */
    public SeriesExample withValues(float[] newValues) {
        return new SeriesExample(newValues, channels, windowLength, stride, 0);
    }

    @Override
    public String toString() {
        return "series[" + channels + "x" + length + ", window " + windowLength + " from " + windowStart + ", #"
                + Integer.toHexString(Arrays.hashCode(values)) + "]";
    }
}
