package dev.modalign.plugins.audio;

/**
 * Triangular mel filters on the bins of an n_fft-point power spectrum, as librosa's default
 * ({@code librosa.filters.mel(htk=False, norm="slaney")}): the Slaney mel scale of the Auditory
 * Toolbox (linear below 1 kHz, logarithmic above), {@code n_mels + 2} edges equally spaced in mel
 * between f_min and f_max, and each triangle scaled by 2 / (its width in Hz) so that every filter
 * has the same area (Slaney, "Auditory Toolbox", Interval Research Technical Report 1998-010).
 *
 * <p>Filters are stored sparsely (first bin and weights), since each covers only a few bins.
 */
final class MelFilterBank {

    /** The Slaney scale: 200/3 Hz per mel below 1 kHz, then ln(6.4)/27 per mel in log frequency. */
    private static final double LINEAR_HZ_PER_MEL = 200.0 / 3;
    private static final double LOG_START_HZ = 1000;
    private static final double LOG_START_MEL = LOG_START_HZ / LINEAR_HZ_PER_MEL;
    private static final double LOG_STEP = Math.log(6.4) / 27;

    private final int bins;
    private final int[] first;
    private final float[][] weights;
    private final double[] edgesHz;

    MelFilterBank(int sampleRate, int nFft, int nMels, double fMin, double fMax) {
        this.bins = nFft / 2 + 1;
        this.first = new int[nMels];
        this.weights = new float[nMels][];
        this.edgesHz = new double[nMels + 2];
        double melMin = hzToMel(fMin);
        double melMax = hzToMel(fMax);
        for (int i = 0; i < nMels + 2; i++) {
            edgesHz[i] = melToHz(melMin + (melMax - melMin) * i / (nMels + 1));
        }
        for (int m = 0; m < nMels; m++) {
            double low = edgesHz[m];
            double centre = edgesHz[m + 1];
            double high = edgesHz[m + 2];
            double norm = 2.0 / (high - low);
            int from = -1;
            int to = -1;
            double[] all = new double[bins];
            for (int k = 0; k < bins; k++) {
                double hz = (double) k * sampleRate / nFft;
                double rising = (hz - low) / (centre - low);
                double falling = (high - hz) / (high - centre);
                double weight = Math.max(0, Math.min(rising, falling));
                if (weight > 0) {
                    all[k] = weight * norm;
                    if (from < 0) {
                        from = k;
                    }
                    to = k;
                }
            }
            if (from < 0) {
                // A filter narrower than a bin gets no weight, as in librosa (which warns about it).
                first[m] = 0;
                weights[m] = new float[0];
            } else {
                first[m] = from;
                weights[m] = new float[to - from + 1];
                for (int k = from; k <= to; k++) {
                    weights[m][k - from] = (float) all[k];
                }
            }
        }
    }

    static double hzToMel(double hz) {
        return hz < LOG_START_HZ ? hz / LINEAR_HZ_PER_MEL : LOG_START_MEL + Math.log(hz / LOG_START_HZ) / LOG_STEP;
    }

    static double melToHz(double mel) {
        return mel < LOG_START_MEL ? mel * LINEAR_HZ_PER_MEL : LOG_START_HZ * Math.exp(LOG_STEP * (mel - LOG_START_MEL));
    }

    int bins() {
        return bins;
    }

    int melBands() {
        return weights.length;
    }

    /** The centre frequency of band m, in Hz. */
    double centreHz(int m) {
        return edgesHz[m + 1];
    }

    /** The filter weight of band m on spectrum bin k (0 outside the band). */
    float weight(int m, int k) {
        int i = k - first[m];
        return i >= 0 && i < weights[m].length ? weights[m][i] : 0f;
    }

    /** Band m's energy: the weighted sum of the power spectrum {@code power[0 .. bins)}. */
    double apply(int m, double[] power) {
        float[] w = weights[m];
        int from = first[m];
        double sum = 0;
        for (int i = 0; i < w.length; i++) {
            sum += w[i] * power[from + i];
        }
        return sum;
    }

    /** Bands whose filter covers no spectrum bin (too many mels for n_fft): they are always 0. */
    int emptyBands() {
        int empty = 0;
        for (float[] w : weights) {
            empty += w.length == 0 ? 1 : 0;
        }
        return empty;
    }
}
