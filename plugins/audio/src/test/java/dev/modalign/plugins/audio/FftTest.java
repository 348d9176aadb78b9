package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FftTest {

    /** Sizes with every kind of factor: 1, powers of two and four, 3, 5, mixed, a prime, 400 = 4 4 5 5. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 30, 64, 97, 100, 400, 512})
    void agreesWithTheDefinitionOfTheDft(int n) {
        Random random = new Random(n);
        double[] re = new double[n];
        double[] im = new double[n];
        for (int i = 0; i < n; i++) {
            re[i] = random.nextGaussian();
            im[i] = random.nextGaussian();
        }
        double[] inRe = re.clone();
        double[] inIm = im.clone();
        double[] outRe = new double[n];
        double[] outIm = new double[n];
        new Fft(n).transform(re, im, outRe, outIm);
        for (int k = 0; k < n; k++) {
            double sumRe = 0;
            double sumIm = 0;
            for (int j = 0; j < n; j++) {
                double angle = -2 * Math.PI * ((long) j * k % n) / n;
                sumRe += inRe[j] * Math.cos(angle) - inIm[j] * Math.sin(angle);
                sumIm += inRe[j] * Math.sin(angle) + inIm[j] * Math.cos(angle);
            }
            assertEquals(sumRe, outRe[k], 1e-9 * Math.sqrt(n) * 10, "re of bin " + k + " of " + n);
            assertEquals(sumIm, outIm[k], 1e-9 * Math.sqrt(n) * 10, "im of bin " + k + " of " + n);
        }
        for (int i = 0; i < n; i++) {
            assertEquals(inRe[i], re[i], 0.0, "the input was modified");
            assertEquals(inIm[i], im[i], 0.0, "the input was modified");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4, 6, 10, 16, 50, 400, 512})
    void theRealTransformAgreesWithTheDefinition(int n) {
        Random random = new Random(n + 1);
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = random.nextGaussian();
        }
        RealFft fft = new RealFft(n);
        double[] re = new double[n / 2 + 1];
        double[] im = new double[n / 2 + 1];
        fft.transform(x, re, im, fft.workspace());
        for (int k = 0; k <= n / 2; k++) {
            double sumRe = 0;
            double sumIm = 0;
            for (int j = 0; j < n; j++) {
                double angle = -2 * Math.PI * ((long) j * k % n) / n;
                sumRe += x[j] * Math.cos(angle);
                sumIm += x[j] * Math.sin(angle);
            }
            assertEquals(sumRe, re[k], 1e-9 * Math.sqrt(n) * 10, "re of bin " + k + " of " + n);
            assertEquals(sumIm, im[k], 1e-9 * Math.sqrt(n) * 10, "im of bin " + k + " of " + n);
        }
    }
}
