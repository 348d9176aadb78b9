package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The log-mel front end against librosa 0.11 (reference values in src/test/resources/librosa,
 * written by make_reference.py there) and against a direct DFT.
 */
class LogMelSpectrogramTest {

    static final int RATE = 16000;

    /** The signal of make_reference.py: two tones and a decaying chirp, 4000 samples. */
    static float[] signal() {
        float[] y = new float[4000];
        for (int n = 0; n < y.length; n++) {
            double t = (double) n / RATE;
            y[n] = (float) (0.5 * Math.sin(2 * Math.PI * 440.0 * t) + 0.25 * Math.sin(2 * Math.PI * 3000.0 * t + 0.3)
                    + 0.1 * Math.sin(2 * Math.PI * (200.0 + 6000.0 * t) * t) * Math.exp(-3.0 * t));
        }
        return y;
    }

    static List<String> lines(String resource) {
        try (InputStream in = LogMelSpectrogramTest.class.getResourceAsStream(resource)) {
            List<String> lines = new ArrayList<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.startsWith("#") && !line.isBlank()) {
                    lines.add(line);
                }
            }
            return lines;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** librosa's filter weights, [band][bin]. */
    static double[][] librosaFilters() {
        double[][] weights = new double[64][201];
        for (String line : lines("/librosa/mel_16k_400_64.txt")) {
            String[] parts = line.trim().split(" ");
            weights[Integer.parseInt(parts[0])][Integer.parseInt(parts[1])] = Double.parseDouble(parts[2]);
        }
        return weights;
    }

    @Test
    void melFiltersAreLibrosasSlaneyFilters() {
        MelFilterBank filters = new MelFilterBank(RATE, 400, 64, 0, 8000);
        double[][] expected = librosaFilters();
        for (int m = 0; m < 64; m++) {
            for (int k = 0; k < 201; k++) {
                assertEquals(expected[m][k], filters.weight(m, k), 1e-6 * Math.max(1, expected[m][k]),
                        "weight of band " + m + " at bin " + k);
            }
        }
    }

    @Test
    void logMelMatchesLibrosa() {
        LogMelSpectrogram spectrogram = new LogMelSpectrogram(RATE, 400, 160, 64, 0, 8000);
        float[] features = spectrogram.compute(signal(), 0, 4000);
        List<String> rows = lines("/librosa/logmel_16k_400_160_64.txt");
        int frames = spectrogram.frames(4000);
        assertEquals(26, frames, "1 + 4000 / 160 frames, as librosa with center=True");
        assertEquals(64, rows.size());
        for (int m = 0; m < 64; m++) {
            String[] values = rows.get(m).trim().split(" ");
            assertEquals(frames, values.length);
            for (int t = 0; t < frames; t++) {
                double expected = Double.parseDouble(values[t]);
                double error = Math.abs(expected - features[m * frames + t]);
                // Float32 input and output: near the 1e-6 floor the log of a difference of near-equal
                // powers is the least precise, so the tolerance grows there.
                double tolerance = expected > -10 ? 1e-5 : 1e-3;
                assertTrue(error <= tolerance, "band " + m + " frame " + t + ": librosa " + expected + ", found "
                        + features[m * frames + t]);
            }
        }
    }

    /**
     * One frame computed independently: the Hann-windowed samples around the frame's centre, a
     * direct DFT, librosa's filter weights, the log. Frame 7 lies inside the signal.
     */
    @Test
    void aFrameMatchesADirectDftThroughLibrosasFilters() {
        float[] y = signal();
        LogMelSpectrogram spectrogram = new LogMelSpectrogram(RATE, 400, 160, 64, 0, 8000);
        float[] features = spectrogram.compute(y, 0, y.length);
        int frames = spectrogram.frames(y.length);
        double[][] filters = librosaFilters();
        for (int frame : new int[] {0, 7, 25}) {
            double[] power = new double[201];
            for (int k = 0; k < 201; k++) {
                double re = 0;
                double im = 0;
                for (int i = 0; i < 400; i++) {
                    int at = frame * 160 - 200 + i;
                    double x = at >= 0 && at < y.length ? y[at] : 0;
                    double w = Math.pow(Math.sin(Math.PI * i / 400), 2);
                    re += x * w * Math.cos(2 * Math.PI * k * i / 400);
                    im -= x * w * Math.sin(2 * Math.PI * k * i / 400);
                }
                power[k] = re * re + im * im;
            }
            for (int m = 0; m < 64; m++) {
                double energy = 0;
                for (int k = 0; k < 201; k++) {
                    energy += filters[m][k] * power[k];
                }
                double expected = Math.log(energy + 1e-6);
                assertEquals(expected, features[m * frames + frame], expected > -10 ? 1e-4 : 1e-2,
                        "band " + m + " of frame " + frame);
            }
        }
    }

    /**
     * A tone at the centre frequency of band m (from the Slaney mel formula, written out here)
     * peaks in band m: the neighbouring triangles are zero at that frequency.
     */
    @Test
    void aToneAtABandsCentrePeaksInThatBand() {
        LogMelSpectrogram spectrogram = new LogMelSpectrogram(RATE, 400, 160, 64, 0, 8000);
        double melMax = 15 + Math.log(8000 / 1000.0) / (Math.log(6.4) / 27);
        for (int band : new int[] {12, 30, 45, 60}) {
            double mel = melMax * (band + 1) / 65;
            double hz = mel < 15 ? mel * 200 / 3 : 1000 * Math.exp((mel - 15) * Math.log(6.4) / 27);
            float[] tone = TestAudio.sine(hz, RATE, RATE / 2);
            float[] features = spectrogram.compute(tone, 0, tone.length);
            int frames = spectrogram.frames(tone.length);
            int t = frames / 2;
            int best = 0;
            for (int m = 1; m < 64; m++) {
                if (features[m * frames + t] > features[best * frames + t]) {
                    best = m;
                }
            }
            assertEquals(band, best, "a " + hz + " Hz tone should peak in band " + band);
        }
    }
}
