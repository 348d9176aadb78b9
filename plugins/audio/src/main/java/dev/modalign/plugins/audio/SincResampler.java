package dev.modalign.plugins.audio;

/**
 * Band-limited resampling by a rational factor with a Kaiser-windowed sinc low-pass filter in
 * polyphase form (Smith, "Digital Audio Resampling", CCRMA; the method and filter settings of
 * resampy's {@code kaiser_best} and {@code kaiser_fast}, which librosa used by default before 0.10).
 *
 * <p>Output sample n sits at input time t = n * in / out and is {@code sum_k x[k] h(t - k)}, where
 * h is c sinc(c u) times a Kaiser window over the {@link ResampleQuality}'s number of zero crossings on each
 * side, and c, the cut-off as a fraction of the input's Nyquist frequency, is the quality's
 * roll-off times the lower of the two Nyquist frequencies over the input's. When downsampling the
 * filter is therefore an anti-alias low-pass just below the output's Nyquist frequency (7.58 kHz for
 * 16 kHz output with {@code best}), and tones the output cannot represent are removed instead of
 * folding back. With in / out reduced to up / down by their greatest common divisor, t takes
 * {@code up} fractional phases, whose filter taps are computed once.
 *
 * <p>Immutable and shared by every loader thread. Samples outside the input are taken as zero.
 */
final class SincResampler {

    private final int inRate;
    private final int outRate;
    private final int up;
    private final int down;
    private final int halfTaps;
    /** taps[phase][j] weights x[base - halfTaps + 1 + j] for output phase {@code phase}. */
    private final float[][] taps;

    SincResampler(int inRate, int outRate, ResampleQuality quality) {
        if (inRate <= 0 || outRate <= 0) {
            throw new IllegalArgumentException("sample rates must be > 0, found " + inRate + " and " + outRate);
        }
        this.inRate = inRate;
        this.outRate = outRate;
        int gcd = gcd(inRate, outRate);
        this.up = outRate / gcd;
        this.down = inRate / gcd;
        double cutoff = quality.rolloff * Math.min(1.0, (double) outRate / inRate);
        // The filter spans the quality's zero crossings of sinc(cutoff u) on each side, in input samples.
        double halfWidth = quality.zeroCrossings / cutoff;
        this.halfTaps = (int) Math.ceil(halfWidth);
        this.taps = new float[up][2 * halfTaps];
        double besselBeta = besselI0(quality.beta);
        for (int phase = 0; phase < up; phase++) {
            // t = base + phase / up; tap j reads x[base - halfTaps + 1 + j], at distance u = t - k.
            double fraction = (double) phase / up;
            for (int j = 0; j < 2 * halfTaps; j++) {
                double u = fraction + halfTaps - 1 - j;
                double value = 0;
                if (Math.abs(u) < halfWidth) {
                    double ratio = u / halfWidth;
                    double kaiser = besselI0(quality.beta * Math.sqrt(1 - ratio * ratio)) / besselBeta;
                    value = cutoff * sinc(cutoff * u) * kaiser;
                }
                taps[phase][j] = (float) value;
            }
        }
    }

    /** Floats in the filter table of a resampler from {@code inRate} to {@code outRate}, without building it. */
    static long tableSize(int inRate, int outRate, ResampleQuality quality) {
        int up = outRate / gcd(inRate, outRate);
        double cutoff = quality.rolloff * Math.min(1.0, (double) outRate / inRate);
        return (long) up * 2 * (long) Math.ceil(quality.zeroCrossings / cutoff);
    }

    int inRate() {
        return inRate;
    }

    int outRate() {
        return outRate;
    }

    /** Output samples for an input of {@code samples} samples: ceil(samples * out / in). */
    long outputLength(long samples) {
        return (samples * up + down - 1) / down;
    }

    /** Resamples {@code input[0 .. length)}, giving at most {@code maxOutput} samples. */
    float[] resample(float[] input, int length, int maxOutput) {
        if (up == down) {
            return java.util.Arrays.copyOf(input, Math.min(length, maxOutput));
        }
        int count = (int) Math.min(maxOutput, outputLength(length));
        float[] out = new float[count];
        for (int n = 0; n < count; n++) {
            long position = (long) n * down;
            int base = (int) (position / up);
            int phase = (int) (position % up);
            float[] h = taps[phase];
            int from = base - halfTaps + 1;
            int jStart = Math.max(0, -from);
            int jEnd = Math.min(h.length, length - from);
            // Four independent partial sums: the additions of one chain wait on each other, four overlap.
            float s0 = 0;
            float s1 = 0;
            float s2 = 0;
            float s3 = 0;
            int j = jStart;
            for (; j + 3 < jEnd; j += 4) {
                int at = from + j;
                s0 += h[j] * input[at];
                s1 += h[j + 1] * input[at + 1];
                s2 += h[j + 2] * input[at + 2];
                s3 += h[j + 3] * input[at + 3];
            }
            for (; j < jEnd; j++) {
                s0 += h[j] * input[from + j];
            }
            out[n] = (s0 + s1) + (s2 + s3);
        }
        return out;
    }

    /** Input samples needed to compute the first {@code outputs} output samples exactly. */
    long inputNeeded(long outputs) {
        return outputs * down / up + halfTaps + 1;
    }

    private static double sinc(double x) {
        if (x == 0) {
            return 1;
        }
        double px = Math.PI * x;
        return Math.sin(px) / px;
    }

    /** The modified Bessel function of the first kind, order 0, by its power series. */
    static double besselI0(double x) {
        double sum = 1;
        double term = 1;
        double quarterSquare = x * x / 4;
        for (int k = 1; k < 200; k++) {
            term *= quarterSquare / ((double) k * k);
            sum += term;
            if (term < sum * 1e-17) {
                break;
            }
        }
        return sum;
    }

    private static int gcd(int a, int b) {
        while (b != 0) {
            int r = a % b;
            a = b;
            b = r;
        }
        return a;
    }
}
