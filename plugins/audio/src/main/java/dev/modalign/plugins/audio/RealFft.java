package dev.modalign.plugins.audio;

/**
 * The non-negative frequency half of the DFT of a real sequence of even length N, from one
 * complex {@link Fft} of length N / 2: the even samples as real parts and the odd as imaginary
 * parts, then X[k] = E[k] + exp(-2 pi i k / N) O[k], where E and O, the transforms of the even and
 * odd samples, are separated by the symmetry of transforms of real sequences (Press et al.,
 * "Numerical Recipes", section 12.3). Half the work of a complex transform of length N.
 *
 * <p>Immutable and shared between threads; callers bring their own buffers.
 */
final class RealFft {

    private final int size;
    private final Fft half;
    private final double[] cos;
    private final double[] sin;

    RealFft(int size) {
        if (size < 2 || size % 2 != 0) {
            throw new IllegalArgumentException("a real FFT needs an even size >= 2, found " + size);
        }
        this.size = size;
        this.half = new Fft(size / 2);
        this.cos = new double[size / 2 + 1];
        this.sin = new double[size / 2 + 1];
        for (int k = 0; k <= size / 2; k++) {
            cos[k] = Math.cos(-2 * Math.PI * k / size);
            sin[k] = Math.sin(-2 * Math.PI * k / size);
        }
    }

    int size() {
        return size;
    }

    /** Buffers for {@link #transform}: four arrays of N / 2 values. */
    double[][] workspace() {
        int h = size / 2;
        return new double[][] {new double[h], new double[h], new double[h], new double[h]};
    }

    /** Writes X[k] for k in [0, N / 2] into {@code outRe} and {@code outIm} (length at least N / 2 + 1). */
    void transform(double[] x, double[] outRe, double[] outIm, double[][] workspace) {
        int h = size / 2;
        double[] zRe = workspace[0];
        double[] zIm = workspace[1];
        double[] fRe = workspace[2];
        double[] fIm = workspace[3];
        for (int m = 0; m < h; m++) {
            zRe[m] = x[2 * m];
            zIm[m] = x[2 * m + 1];
        }
        half.transform(zRe, zIm, fRe, fIm);
        for (int k = 0; k <= h; k++) {
            int a = k % h;
            int b = (h - k) % h;
            double re = fRe[a];
            double im = fIm[a];
            // conj(Z[(h - k) mod h])
            double cRe = fRe[b];
            double cIm = -fIm[b];
            double evenRe = (re + cRe) / 2;
            double evenIm = (im + cIm) / 2;
            // (Z - conj Z') / 2i = ((Z - conj Z').im, -(Z - conj Z').re) / 2
            double oddRe = (im - cIm) / 2;
            double oddIm = -(re - cRe) / 2;
            outRe[k] = evenRe + cos[k] * oddRe - sin[k] * oddIm;
            outIm[k] = evenIm + cos[k] * oddIm + sin[k] * oddRe;
        }
    }
}
