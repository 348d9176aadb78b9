package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SpecAugmentTest extends AbstractAugmentationContractTest<SpecAugment.Params> {

    @Override
    protected ComponentFactory<SpecAugment.Params, Augmentation<?>> factory() {
        return AudioPlugin.SPEC_AUGMENT;
    }

    @Override
    protected SpecAugment.Params params() {
        return new SpecAugment.Params(2, 8, 2, 20);
    }

    @Override
    protected Object example() {
        return RandomSegmentTest.longClip();
    }

    @Test
    void masksWholeBandsAndFrameSpansWithinTheLimits() {
        // A half-second clip: 51 real frames of 101, time masks must stay among them.
        AudioExample clip = AudioModalityTest.modality(AudioModalityTest.params(1.0, PadMode.ZERO, false))
                .decode(java.util.Arrays.copyOf(RandomSegmentTest.longClip().clip(), 8000), "half a second");
        assertEquals(51, clip.realFrames());
        int bands = clip.melBands();
        int frames = clip.frames();
        SpecAugment augment = new SpecAugment(new SpecAugment.Params(1, 8, 1, 20), TestContext.builder().build());
        boolean sawBand = false;
        boolean sawSpan = false;
        for (int seed = 0; seed < 40; seed++) {
            AudioExample out = augment.apply(clip, new Random(seed));
            assertTrue(out.spectrogramMasked());
            float[] in = clip.features();
            float[] masked = out.features();
            // Changed values share one fill value; changed bands are whole rows or whole spans of frames.
            Float fill = null;
            int changedBands = 0;
            boolean[] changedFrame = new boolean[frames];
            for (int m = 0; m < bands; m++) {
                int changedInRow = 0;
                for (int t = 0; t < frames; t++) {
                    if (in[m * frames + t] != masked[m * frames + t]) {
                        if (fill == null) {
                            fill = masked[m * frames + t];
                        }
                        assertEquals(fill, masked[m * frames + t], 0f, "one fill value");
                        changedInRow++;
                        changedFrame[t] = true;
                    }
                }
                changedBands += changedInRow > frames / 2 ? 1 : 0;
            }
            assertTrue(changedBands <= 8, changedBands + " whole bands masked, at most 8");
            sawBand |= changedBands > 0;
            int first = -1;
            int last = -1;
            for (int t = 0; t < frames; t++) {
                int column = 0;
                for (int m = 0; m < bands; m++) {
                    column += in[m * frames + t] != masked[m * frames + t] ? 1 : 0;
                }
                if (column > bands / 2) {
                    first = first < 0 ? t : first;
                    last = t;
                }
            }
            if (first >= 0) {
                sawSpan = true;
                assertTrue(last - first + 1 <= 20, "time mask of " + (last - first + 1) + " frames");
                assertTrue(last < clip.realFrames(), "time mask beyond the real frames: " + last);
            }
        }
        assertTrue(sawBand && sawSpan, "forty seeds should draw a frequency and a time mask");
    }

    @Test
    void aWaveformAugmentationAfterItIsRefused() {
        AudioExample masked = new SpecAugment(new SpecAugment.Params(2, 8, 2, 20), TestContext.builder().build())
                .apply(RandomSegmentTest.longClip(), new Random(1));
        IllegalStateException error = assertThrows(IllegalStateException.class,
                () -> new Gain(new Gain.Params(-6, 6, 1.0), TestContext.builder().build()).apply(masked, new Random(2)));
        assertTrue(error.getMessage().contains("list spec-augment after"), error.getMessage());
    }
}
