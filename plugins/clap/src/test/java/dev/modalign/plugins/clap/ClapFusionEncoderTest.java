package dev.modalign.plugins.clap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.TokenSpec;
import dev.modalign.plugins.audio.AudioExample;
import dev.modalign.plugins.audio.AudioModality;
import dev.modalign.plugins.audio.PadMode;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/**
 * Feature fusion on real log-mel spectrograms from the audio modality: short and long clips in one batch,
 * each embedded alike whatever it is batched and padded with, and long clips seen whole.
 */
class ClapFusionEncoderTest extends ManagerPerTest {

    private static final int RATE = 8000;
    /** 0.5 s, 1 s (the window), 1.7 s and 2.9 s of audio; at hop 80 the window is 101 frames. */
    private static final double[] SECONDS = {0.5, 1.0, 1.7, 2.9};
    private static final ClapFusionEncoder.Params PARAMS =
            new ClapFusionEncoder.Params(101, "repeat", List.of(8, 16), 12, 32, 4);

    @Test
    void shortAndLongClipsInOneBatchEachGetTheEmbeddingTheyGetAlone() {
        AudioModality modality = modality(3.0);
        List<AudioExample> clips = clips(modality);
        Encoder encoder = build(modality, clips);
        float[] together = encode(encoder, modality.collate(clips, manager));
        for (int i = 0; i < clips.size(); i++) {
            float[] alone = encode(encoder, modality.collate(List.of(clips.get(i)), manager));
            Tensors.assertClose(Arrays.copyOfRange(together, 12 * i, 12 * i + 12), alone, 1e-5,
                    SECONDS[i] + " s clip, batched with the others and alone");
        }
    }

    @Test
    void theEmbeddingIsTheSameWhateverTheBatchIsPaddedToAndWhatThePaddingHolds() {
        AudioModality threeSeconds = modality(3.0);
        AudioModality sixSeconds = modality(6.0); // every clip padded to 601 frames instead of 301
        List<AudioExample> clips = clips(threeSeconds);
        Encoder encoder = build(threeSeconds, clips);
        float[] expected = encode(encoder, threeSeconds.collate(clips, manager));
        NDList longer = sixSeconds.collate(clips(sixSeconds), manager);
        assertEquals(601, longer.get(0).getShape().get(3));
        Tensors.assertClose(expected, encode(encoder, longer), 1e-5, "padded to 6 s");
        // Noise in every padded frame: the mask says they are not the clip's.
        NDArray features = longer.get(0);
        NDArray padding = longer.get(1).neg().add(1f).reshape(clips.size(), 1, 1, 601);
        NDArray noisy = features.add(manager.randomNormal(features.getShape()).mul(5f).mul(padding));
        Tensors.assertClose(expected, encode(encoder, new NDList(noisy, longer.get(1))), 1e-5, "noise in the padding");
    }

    @Test
    void aLongClipIsSeenWholeAndAShortOneOnlyWhereItIs() {
        AudioModality modality = modality(3.0);
        List<AudioExample> clips = clips(modality);
        Encoder encoder = build(modality, clips);
        NDList batch = modality.collate(clips, manager);
        float[] before = encode(encoder, batch);
        // Change the last second of the 2.9 s clip (frames 200 to 290), far outside the first window of 101.
        NDArray features = batch.get(0).duplicate();
        features.set(new NDIndex("3, :, :, 200:290"), features.get(new NDIndex("3, :, :, 200:290")).add(2f));
        float[] after = encode(encoder, new NDList(features, batch.get(1)));
        assertTrue(maxAbsDifference(Arrays.copyOfRange(before, 36, 48), Arrays.copyOfRange(after, 36, 48)) > 1e-3,
                "the end of a long clip did not change its embedding");
        Tensors.assertClose(Arrays.copyOfRange(before, 0, 36), Arrays.copyOfRange(after, 0, 36), 1e-6,
                "the other clips");
    }

    @Test
    void withoutTheModalitysMaskItSaysHowToTurnItOn() {
        Encoder encoder = ClapPlugin.CLAP_FUSION.create(PARAMS, TestContext.builder().optInput(new ImageSpec(1, 8, 301))
                .build());
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> encoder.block().initialize(manager, DataType.FLOAT32, new Shape(2, 1, 8, 301)));
        assertTrue(error.getMessage().contains("set mask: true"), error.getMessage());
    }

    @Test
    void rejectsAWindowLongerThanTheModalityAndNonAudioInput() {
        InvalidParamException window = assertThrows(InvalidParamException.class, () -> new ClapFusionEncoder(PARAMS,
                TestContext.builder().optInput(new ImageSpec(1, 8, 50)).optTowers(List.of("audio"), 12).build()));
        assertEquals("window_frames", window.key());
        assertTrue(window.getMessage().contains("raise the modality's max_seconds"), window.getMessage());
        assertEquals("type", assertThrows(InvalidParamException.class, () -> new ClapFusionEncoder(PARAMS,
                TestContext.builder().optInput(new TokenSpec(10, 4, 0, 1)).build())).key());
        assertEquals("type", assertThrows(InvalidParamException.class, () -> new ClapFusionEncoder(PARAMS,
                TestContext.builder().optInput(new ImageSpec(3, 8, 301)).build())).key());
        assertEquals("fill", assertThrows(InvalidParamException.class,
                () -> new ClapFusionEncoder.Params(101, "mirror", List.of(8), 12, 32, 4)).key());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithBothComponents() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("clap")).findFirst().orElseThrow();
        assertInstanceOf(ClapPlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertTrue(plugin.encoders().stream().anyMatch(f -> f.name().equals("clap-fusion")
                && f.description().contains("Feature Fusion and Keyword-to-Caption Augmentation")));
        assertTrue(plugin.datasetSources().stream().anyMatch(f -> f.name().equals("keyword-captions")));
    }

    /** The audio modality at 8 kHz, hop 80 (100 frames a second), 16 mel bands, with the mask. */
    private static AudioModality modality(double maxSeconds) {
        AudioModality.Params d = AudioModality.Params.defaults();
        return new AudioModality(new AudioModality.Params(RATE, d.resampleQuality(), maxSeconds, maxSeconds,
                PadMode.ZERO, 256, 80, 16, 0.0, null, d.format(), d.rawEncoding(), 1, null, -5.0, 3.0, true),
                TestContext.builder().build());
    }

    /** Chirps of the lengths in SECONDS, each different. */
    private static List<AudioExample> clips(AudioModality modality) {
        List<AudioExample> clips = new ArrayList<>();
        Random random = new Random(4);
        for (double seconds : SECONDS) {
            float[] samples = new float[(int) Math.round(seconds * RATE)];
            double start = 200 + 600 * random.nextDouble();
            for (int n = 0; n < samples.length; n++) {
                double t = (double) n / RATE;
                samples[n] = (float) (0.4 * Math.sin(2 * Math.PI * (start * t + 300 * t * t)) + 0.01 * random.nextGaussian());
            }
            clips.add(modality.decode(samples, seconds + " s chirp"));
        }
        return clips;
    }

    private Encoder build(AudioModality modality, List<AudioExample> clips) {
        Engine.getInstance().setRandomSeed(3);
        Encoder encoder = ClapPlugin.CLAP_FUSION.create(PARAMS, TestContext.builder().optInput(modality.spec()).build());
        NDList sample = modality.collate(clips, manager);
        encoder.block().initialize(manager, DataType.FLOAT32, sample.getShapes());
        // A few training-mode forwards, so that batch normalisation has statistics of real spectrograms.
        for (int i = 0; i < 3; i++) {
            encoder.block().forward(new ParameterStore(manager, false), sample, true);
        }
        return encoder;
    }

    private float[] encode(Encoder encoder, NDList batch) {
        return encoder.block().forward(new ParameterStore(manager, false), batch, false).get(0).toFloatArray();
    }

    private static double maxAbsDifference(float[] a, float[] b) {
        double largest = 0;
        for (int i = 0; i < a.length; i++) {
            largest = Math.max(largest, Math.abs(a[i] - b[i]));
        }
        return largest;
    }

    /** Random log-mel [B, 1, 8, frames] and the mask of clips of the given real lengths. */
    static NDList spectrograms(NDManager manager, int[] lengths, int frames) {
        int batch = lengths.length;
        NDArray features = manager.randomNormal(new Shape(batch, 1, 8, frames));
        float[] mask = new float[batch * frames];
        for (int i = 0; i < batch; i++) {
            Arrays.fill(mask, i * frames, i * frames + lengths[i], 1f);
        }
        return new NDList(features, manager.create(mask, new Shape(batch, frames)));
    }
}
