package dev.modalign.plugins.audio;

/**
 * A mixed-radix complex FFT of one fixed size, X[k] = sum_n x[n] exp(-2 pi i k n / N).
 *
 * <p>Recursive decimation in time (Cooley and Tukey, "An Algorithm for the Machine Calculation of
 * Complex Fourier Series", 1965) over the factors of N, taken as 4s, then 2, 3, 5 and any other
 * prime: N = 400 (the usual 25 ms window at 16 kHz) is 4 x 4 x 5 x 5, so the spectrogram's frame
 * need not be padded to a power of two and keeps the bins librosa and torchaudio compute. Each
 * butterfly of radix p is a direct p-point DFT, so a large prime factor costs O(N p); sizes with
 * small factors are what audio front ends use.
 *
 * <p>Immutable after construction (factors and twiddles are precomputed), so one instance is
 * shared by every loader thread; callers bring their own buffers.
 */
final class Fft {

    private final int size;
    private final int[] factors;
    private final double[] cos;
    private final double[] sin;
    /** Per level of the recursion with a factor handled by the generic butterfly: cos and sin of -2 pi q r / p. */
    private final double[][] rootCos;
    private final double[][] rootSin;

    Fft(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("FFT size must be >= 1, found " + size);
        }
        this.size = size;
        this.factors = factor(size);
        this.cos = new double[size];
        this.sin = new double[size];
        for (int j = 0; j < size; j++) {
            double angle = -2 * Math.PI * j / size;
            cos[j] = Math.cos(angle);
            sin[j] = Math.sin(angle);
        }
        this.rootCos = new double[factors.length][];
        this.rootSin = new double[factors.length][];
        for (int level = 0; level < factors.length; level++) {
            int p = factors[level];
            if (p != 2 && p != 4) {
                rootCos[level] = new double[p * p];
                rootSin[level] = new double[p * p];
                for (int q = 0; q < p; q++) {
                    for (int r = 0; r < p; r++) {
                        double angle = -2 * Math.PI * (q * r % p) / p;
                        rootCos[level][q * p + r] = Math.cos(angle);
                        rootSin[level][q * p + r] = Math.sin(angle);
                    }
                }
            }
        }
    }

    int size() {
        return size;
    }

    /** Fours first (fewest passes), then a remaining two, then odd primes in increasing order. */
    private static int[] factor(int n) {
        int[] found = new int[32];
        int count = 0;
        while (n % 4 == 0) {
            found[count++] = 4;
            n /= 4;
        }
        if (n % 2 == 0) {
            found[count++] = 2;
            n /= 2;
        }
        for (int p = 3; (long) p * p <= n; p += 2) {
            while (n % p == 0) {
                found[count++] = p;
                n /= p;
            }
        }
        if (n > 1) {
            found[count++] = n;
        }
        return java.util.Arrays.copyOf(found, count);
    }

    /**
     * Transforms {@code inRe + i inIm} (length N, left unchanged) into {@code outRe + i outIm}
     * (length N). The input and output arrays must be distinct.
     */
    void transform(double[] inRe, double[] inIm, double[] outRe, double[] outIm) {
        if (inRe.length < size || inIm.length < size || outRe.length < size || outIm.length < size) {
            throw new IllegalArgumentException("buffers shorter than the FFT size " + size);
        }
        double[] scratchRe = new double[maxFactor()];
        double[] scratchIm = new double[scratchRe.length];
        recurse(inRe, inIm, 0, 1, outRe, outIm, 0, size, 0, scratchRe, scratchIm);
    }

    private int maxFactor() {
        int max = 1;
        for (int factor : factors) {
            max = Math.max(max, factor);
        }
        return max;
    }

    /**
     * The DFT of the n inputs at {@code inOffset + j * stride}, written to {@code out[outOffset ..
     * outOffset + n)}: p sub-transforms of the decimated sequences, then one radix-p pass.
     */
    private void recurse(double[] inRe, double[] inIm, int inOffset, int stride, double[] outRe, double[] outIm,
            int outOffset, int n, int level, double[] scratchRe, double[] scratchIm) {
        if (n == 1) {
            outRe[outOffset] = inRe[inOffset];
            outIm[outOffset] = inIm[inOffset];
            return;
        }
        int p = factors[level];
        int m = n / p;
        for (int q = 0; q < p; q++) {
            recurse(inRe, inIm, inOffset + q * stride, stride * p, outRe, outIm, outOffset + q * m, m, level + 1,
                    scratchRe, scratchIm);
        }
        // out[outOffset + q m + k] holds Y_q[k]; X[k + r m] = sum_q (W_n^{q k} Y_q[k]) W_p^{q r}.
        int twiddleStep = size / n;
        for (int k = 0; k < m; k++) {
            for (int q = 0; q < p; q++) {
                int at = outOffset + q * m + k;
                // q k < n, so the index stays below size.
                int j = q * k * twiddleStep;
                double re = outRe[at];
                double im = outIm[at];
                scratchRe[q] = re * cos[j] - im * sin[j];
                scratchIm[q] = re * sin[j] + im * cos[j];
            }
            if (p == 2) {
                int a = outOffset + k;
                int b = a + m;
                outRe[a] = scratchRe[0] + scratchRe[1];
                outIm[a] = scratchIm[0] + scratchIm[1];
                outRe[b] = scratchRe[0] - scratchRe[1];
                outIm[b] = scratchIm[0] - scratchIm[1];
            } else if (p == 4) {
                // W_4 = -i: X[r] = (y0 + y2) + (-i)^r (y1 + (-1)^r y3) expanded.
                double s02Re = scratchRe[0] + scratchRe[2];
                double s02Im = scratchIm[0] + scratchIm[2];
                double d02Re = scratchRe[0] - scratchRe[2];
                double d02Im = scratchIm[0] - scratchIm[2];
                double s13Re = scratchRe[1] + scratchRe[3];
                double s13Im = scratchIm[1] + scratchIm[3];
                double d13Re = scratchRe[1] - scratchRe[3];
                double d13Im = scratchIm[1] - scratchIm[3];
                int a = outOffset + k;
                outRe[a] = s02Re + s13Re;
                outIm[a] = s02Im + s13Im;
                outRe[a + m] = d02Re + d13Im;
                outIm[a + m] = d02Im - d13Re;
                outRe[a + 2 * m] = s02Re - s13Re;
                outIm[a + 2 * m] = s02Im - s13Im;
                outRe[a + 3 * m] = d02Re - d13Im;
                outIm[a + 3 * m] = d02Im + d13Re;
            } else {
                double[] rc = rootCos[level];
                double[] rs = rootSin[level];
                for (int r = 0; r < p; r++) {
                    double sumRe = 0;
                    double sumIm = 0;
                    for (int q = 0; q < p; q++) {
                        double c = rc[q * p + r];
                        double sn = rs[q * p + r];
                        sumRe += scratchRe[q] * c - scratchIm[q] * sn;
                        sumIm += scratchRe[q] * sn + scratchIm[q] * c;
                    }
                    outRe[outOffset + r * m + k] = sumRe;
                    outIm[outOffset + r * m + k] = sumIm;
                }
            }
        }
    }
}
