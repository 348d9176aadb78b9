package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Resampling keeps tones below the cut-off at their frequency and level, and removes those the
 * output cannot represent instead of folding them back. Levels are measured by least-squares fits
 * of a sine and cosine at a frequency, away from the edges.
 */
class SincResamplerTest {

    private static float[] resample(float[] x, int from, int to) {
        return resample(x, from, to, ResampleQuality.BEST);
    }

    private static float[] resample(float[] x, int from, int to, ResampleQuality quality) {
        SincResampler resampler = new SincResampler(from, to, quality);
        return resampler.resample(x, x.length, Integer.MAX_VALUE);
    }

    @Test
    void outputLengthIsTheCeilingOfTheRatio() {
        assertEquals(16000, new SincResampler(44100, 16000, ResampleQuality.BEST).outputLength(44100));
        assertEquals(1, new SincResampler(44100, 16000, ResampleQuality.BEST).outputLength(1));
        assertEquals(363, new SincResampler(44100, 16000, ResampleQuality.BEST).outputLength(1000), "ceil(1000 * 160 / 441) = 363");
        assertEquals(2000, new SincResampler(8000, 16000, ResampleQuality.FAST).outputLength(1000));
        assertEquals(363, resample(new float[1000], 44100, 16000).length);
    }

    @ParameterizedTest
    @EnumSource(ResampleQuality.class)
    void downsamplingKeepsAOneKilohertzToneAtOneKilohertz(ResampleQuality quality) {
        float[] tone = TestAudio.sine(1000, 44100, 44100, 0.5, 0.7);
        float[] out = resample(tone, 44100, 16000, quality);
        assertEquals(16000, out.length);
        assertEquals(0.5, TestAudio.amplitude(out, 1000, 15000, 1000, 16000), 0.5 * 0.002, "level of the 1 kHz tone");
        // Nothing else: what is left after removing the fitted 1 kHz tone is tiny.
        float[] residual = residual(out, 1000, 15000, 1000, 16000);
        assertTrue(TestAudio.rms(residual, 1000, 15000) < 1e-4, "residual rms " + TestAudio.rms(residual, 1000, 15000));
    }

    /** 12 kHz at 44.1 kHz would fold to 16 - 12 = 4 kHz at 16 kHz, and 8.1 kHz to 7.9 kHz, without the low-pass. */
    @ParameterizedTest
    @EnumSource(ResampleQuality.class)
    void downsamplingRemovesWhatWouldAlias(ResampleQuality quality) {
        for (double[] fold : new double[][] {{12000, 4000}, {8100, 7900}, {20000, 4000}}) {
            float[] high = TestAudio.sine(fold[0], 44100, 44100, 0.5, 0);
            float[] out = resample(high, 44100, 16000, quality);
            double aliased = TestAudio.amplitude(out, 1000, 15000, fold[1], 16000);
            assertTrue(aliased < 0.5e-4, fold[0] + " Hz folded to " + fold[1] + " Hz with amplitude " + aliased
                    + ", more than -80 dB of 0.5");
            assertTrue(TestAudio.rms(out, 1000, 15000) < 0.5e-4, "rms " + TestAudio.rms(out, 1000, 15000));
        }
        // 7.9 kHz is representable at 16 kHz but above either cut-off (7.58 or 6.8 kHz): attenuated.
        float[] edge = TestAudio.sine(7900, 44100, 44100, 0.5, 0);
        double kept = TestAudio.amplitude(resample(edge, 44100, 16000, quality), 1000, 15000, 7900, 16000);
        assertTrue(kept < 0.5 * 0.03, "7.9 kHz kept amplitude " + kept + " of 0.5; expected at least 30 dB down");
    }

    @Test
    void theBestFilterPassesUpTo7KilohertzAndTheFastOneRollsOffBefore() {
        float[] tone = TestAudio.sine(7000, 44100, 44100, 0.5, 0);
        double best = TestAudio.amplitude(resample(tone, 44100, 16000, ResampleQuality.BEST), 1000, 15000, 7000, 16000);
        double fast = TestAudio.amplitude(resample(tone, 44100, 16000, ResampleQuality.FAST), 1000, 15000, 7000, 16000);
        assertEquals(0.5, best, 0.5 * 0.001, "best passes 7 kHz");
        assertTrue(fast < 0.5 * 0.5, "fast's transition band (roll-off 0.85) should start below 7 kHz, kept " + fast);
        float[] five = TestAudio.sine(5000, 44100, 44100, 0.5, 0);
        assertEquals(0.5, TestAudio.amplitude(resample(five, 44100, 16000, ResampleQuality.FAST), 1000, 15000, 5000,
                16000), 0.5 * 0.01, "fast passes 5 kHz");
    }

    @Test
    void upsamplingKeepsTheToneAndAddsNoImage() {
        float[] tone = TestAudio.sine(1000, 8000, 8000, 0.5, 0.2);
        float[] out = resample(tone, 8000, 16000);
        assertEquals(16000, out.length);
        assertEquals(0.5, TestAudio.amplitude(out, 1000, 15000, 1000, 16000), 0.5 * 0.002);
        // Zero-stuffing would leave an image at 8 - 1 = 7 kHz.
        double image = TestAudio.amplitude(out, 1000, 15000, 7000, 16000);
        assertTrue(image < 0.5e-3, "image at 7 kHz " + image);
        for (int n = 200; n < 8000 - 200; n++) {
            assertEquals(tone[n], out[2 * n], 2e-3, "upsampling by 2 keeps the original samples at even positions");
        }
    }

    @Test
    void equalRatesCopy() {
        float[] x = TestAudio.sine(440, 16000, 100);
        float[] out = resample(x, 16000, 16000);
        assertEquals(100, out.length);
        for (int i = 0; i < 100; i++) {
            assertEquals(x[i], out[i], 0f);
        }
    }

    /** x minus its least-squares fit at one frequency. */
    private static float[] residual(float[] x, int from, int to, double frequency, int rate) {
        double s = 0;
        double c = 0;
        double ss = 0;
        double cc = 0;
        double sc = 0;
        for (int n = from; n < to; n++) {
            double angle = 2 * Math.PI * frequency * n / rate;
            s += x[n] * Math.sin(angle);
            c += x[n] * Math.cos(angle);
            ss += Math.sin(angle) * Math.sin(angle);
            cc += Math.cos(angle) * Math.cos(angle);
            sc += Math.sin(angle) * Math.cos(angle);
        }
        double det = ss * cc - sc * sc;
        double a = (s * cc - c * sc) / det;
        double b = (c * ss - s * sc) / det;
        float[] out = x.clone();
        for (int n = from; n < to; n++) {
            double angle = 2 * Math.PI * frequency * n / rate;
            out[n] -= (float) (a * Math.sin(angle) + b * Math.cos(angle));
        }
        return out;
    }
}
