package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.testkit.AbstractAugmentationContractTest;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RandomSegmentTest extends AbstractAugmentationContractTest<RandomSegment.Params> {

    /** A 2.5 s clip (a rising chirp, so every segment differs) in a 1 s window. */
    static AudioExample longClip() {
        float[] chirp = new float[40000];
        for (int n = 0; n < chirp.length; n++) {
            double t = n / 16000.0;
            chirp[n] = (float) (0.5 * Math.sin(2 * Math.PI * (100 + 500 * t) * t));
        }
        return AudioModalityTest.modality(AudioModalityTest.params(1.0, PadMode.ZERO, false)).decode(chirp, "chirp");
    }

    @Override
    protected ComponentFactory<RandomSegment.Params, Augmentation<?>> factory() {
        return AudioPlugin.RANDOM_SEGMENT;
    }

    @Override
    protected RandomSegment.Params params() {
        return new RandomSegment.Params(1.0);
    }

    @Override
    protected Object example() {
        return longClip();
    }

    @Test
    void picksEveryStartUniformlyAndComputesItsFeatures() {
        RandomSegment segment = new RandomSegment(new RandomSegment.Params(1.0), TestContext.builder().build());
        AudioExample clip = longClip();
        LogMelSpectrogram spectrogram = new LogMelSpectrogram(16000, 400, 160, 64, 0, 8000);
        Random random = new Random(3);
        int[] quarters = new int[4];
        for (int i = 0; i < 400; i++) {
            AudioExample out = segment.apply(clip, random);
            int start = out.windowStart();
            assertTrue(start >= 0 && start <= 24000, "start " + start);
            quarters[Math.min(3, start / 6000)]++;
            if (i < 3) {
                assertArrayEquals(spectrogram.compute(clip.clip(), start, 16000), out.features());
                assertEquals(101, out.realFrames());
            }
        }
        for (int count : quarters) {
            // Binomial(400, 1/4): mean 100, sd 8.7; 5 sd either side.
            assertEquals(100, count, 44, "starts per quarter " + Arrays.toString(quarters));
        }
    }

    @Test
    void pIsTheShareOfMovedWindows() {
        RandomSegment segment = new RandomSegment(new RandomSegment.Params(0.3), TestContext.builder().build());
        AudioExample clip = longClip();
        Random random = new Random(11);
        int moved = 0;
        for (int i = 0; i < 500; i++) {
            moved += segment.apply(clip, random) == clip ? 0 : 1;
        }
        // Binomial(500, 0.3): mean 150, sd 10.2; 5 sd either side.
        assertEquals(150, moved, 51);
    }

    @Test
    void aClipNoLongerThanTheWindowIsLeftAsItIs() {
        AudioExample shortClip = AudioModalityTest.modality(AudioModalityTest.params(1.0, PadMode.ZERO, false))
                .decode(TestAudio.sine(300, 16000, 16000), "one second");
        assertSame(shortClip, new RandomSegment(new RandomSegment.Params(1.0), TestContext.builder().build()).apply(shortClip,
                new Random(1)));
    }
}
