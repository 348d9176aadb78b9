package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.modalign.testkit.TestContext;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Prints how many 5 s clips one thread decodes per second (WAV parsing, mixing, resampling and the
 * log-mel spectrogram), for the default settings and the best resampling filter. Timing is printed,
 * never asserted: it depends on the machine.
 */
class AudioThroughputTest {

    @Test
    void printsDecodeAndLogMelThroughputForFiveSecondClips() {
        float[] left = TestAudio.sine(440, 44100, 5 * 44100, 0.3, 0);
        float[] right = TestAudio.sine(1200, 44100, 5 * 44100, 0.3, 0);
        byte[] stereo44k = TestAudio.wav(new float[][] {left, right}, 44100, 16, false, false, false);
        byte[] mono16k = TestAudio.wav16(TestAudio.sine(440, 16000, 5 * 16000), 16000);
        AudioModality.Params d = AudioModality.Params.defaults();
        for (ResampleQuality quality : ResampleQuality.values()) {
            AudioModality modality = new AudioModality(new AudioModality.Params(d.sampleRate(), quality, d.maxSeconds(),
                    d.sourceSeconds(), d.padMode(), d.nFft(), d.hop(), d.nMels(), d.fMin(), d.fMax(), d.format(),
                    d.rawEncoding(), d.rawChannels(), d.rawSampleRate(), d.mean(), d.std(), d.mask()),
                    TestContext.builder().optBaseDir(Path.of(".")).build());
            for (Object[] input : new Object[][] {{"44.1 kHz stereo", stereo44k}, {"16 kHz mono", mono16k}}) {
                byte[] bytes = (byte[]) input[1];
                for (int i = 0; i < 5; i++) {
                    modality.decode(bytes, "warm-up");
                }
                int clips = 20;
                long start = System.nanoTime();
                for (int i = 0; i < clips; i++) {
                    assertEquals(501, modality.decode(bytes, "bench").frames());
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                System.out.printf("audio decode + log-mel, 5 s %s WAV, resample_quality %s: %.1f clips/s on one thread"
                        + " (%.1f ms each)%n", input[0], quality.name().toLowerCase(java.util.Locale.ROOT),
                        clips / seconds, 1000 * seconds / clips);
            }
        }
    }
}
