package dev.modalign.plugins.audio;

/**
 * The log-mel spectrogram of a waveform, computed as {@code librosa.feature.melspectrogram(y, sr,
 * n_fft, hop_length, n_mels, fmin, fmax, center=True, pad_mode="constant", power=2.0)} (librosa 0.10
 * and later) followed by {@code log(S + 1e-6)}.
 *
 * <ul>
 *   <li>Frames of n_fft samples every hop samples, centred: frame t is centred on sample t * hop,
 *       with n_fft / 2 zeros before the start and after the end, so L samples give 1 + L / hop
 *       frames (integer division).
 *   <li>Each frame is multiplied by a periodic Hann window of n_fft samples (as {@code
 *       scipy.signal.get_window("hann", n_fft)} and {@code torch.hann_window}) and transformed at
 *       exactly n_fft points ({@link RealFft} over the mixed-radix {@link Fft}), no padding to a
 *       power of two.
 *   <li>Power |X[k]|^2 of the n_fft / 2 + 1 non-negative frequency bins, then the Slaney mel filters
 *       of {@link MelFilterBank}, then the natural log of (energy + 1e-6), which bounds silence at
 *       ln(1e-6) = -13.8 instead of minus infinity.
 * </ul>
 *
 * <p>Immutable and shared by every loader thread; each call allocates its own buffers.
 */
final class LogMelSpectrogram {

    /** Added to the mel energy before the logarithm. */
    static final double LOG_OFFSET = 1e-6;

    private final int nFft;
    private final int hop;
    private final RealFft fft;
    private final double[] window;
    private final MelFilterBank filters;

    LogMelSpectrogram(int sampleRate, int nFft, int hop, int nMels, double fMin, double fMax) {
        this.nFft = nFft;
        this.hop = hop;
        this.fft = new RealFft(nFft);
        this.window = new double[nFft];
        for (int i = 0; i < nFft; i++) {
            window[i] = 0.5 - 0.5 * Math.cos(2 * Math.PI * i / nFft);
        }
        this.filters = new MelFilterBank(sampleRate, nFft, nMels, fMin, fMax);
    }

    MelFilterBank filters() {
        return filters;
    }

    int melBands() {
        return filters.melBands();
    }

    /** Frames of a waveform of {@code samples} samples: 1 + samples / hop. */
    int frames(int samples) {
        return 1 + samples / hop;
    }

    /**
     * The log-mel spectrogram of {@code signal[offset .. offset + length)}, mel-major: value of band
     * m at frame t is at {@code m * frames + t}, frames = {@link #frames(int) frames(length)}.
     */
    float[] compute(float[] signal, int offset, int length) {
        int frames = frames(length);
        int bands = filters.melBands();
        int bins = filters.bins();
        float[] out = new float[bands * frames];
        double[] frame = new double[nFft];
        double[][] workspace = fft.workspace();
        double[] spectrumRe = new double[bins];
        double[] spectrumIm = new double[bins];
        double[] power = new double[bins];
        int half = nFft / 2;
        for (int t = 0; t < frames; t++) {
            int start = t * hop - half;
            for (int i = 0; i < nFft; i++) {
                int at = start + i;
                frame[i] = at >= 0 && at < length ? signal[offset + at] * window[i] : 0;
            }
            fft.transform(frame, spectrumRe, spectrumIm, workspace);
            for (int k = 0; k < bins; k++) {
                power[k] = spectrumRe[k] * spectrumRe[k] + spectrumIm[k] * spectrumIm[k];
            }
            for (int m = 0; m < bands; m++) {
                out[m * frames + t] = (float) Math.log(filters.apply(m, power) + LOG_OFFSET);
            }
        }
        return out;
    }
}
