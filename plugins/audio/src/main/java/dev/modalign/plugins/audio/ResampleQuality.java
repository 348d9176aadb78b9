package dev.modalign.plugins.audio;

/**
 * The resampling filter's settings, resampy's: {@code best}, a longer filter with a sharper
 * transition, and {@code fast}, a quarter of the work (see {@link SincResampler}).
 */
public enum ResampleQuality {
    /**
     * 64 zero crossings each side, roll-off 0.9476, Kaiser beta 14.77: flat to 0.9 of the output's
     * Nyquist frequency (7.2 kHz at 16 kHz), aliases more than 100 dB down.
     */
    BEST(64, 0.9475937167399596, 14.769656459379492),
    /**
     * 16 zero crossings each side, roll-off 0.85, Kaiser beta 8.56: a quarter of the taps; within
     * 0.15 dB to 0.75 of the output's Nyquist frequency (6 kHz at 16 kHz), 10 dB down at 7 kHz,
     * aliases more than 90 dB down.
     */
    FAST(16, 0.85, 8.555504641634386);

    final int zeroCrossings;
    final double rolloff;
    final double beta;

    ResampleQuality(int zeroCrossings, double rolloff, double beta) {
        this.zeroCrossings = zeroCrossings;
        this.rolloff = rolloff;
        this.beta = beta;
    }
}
