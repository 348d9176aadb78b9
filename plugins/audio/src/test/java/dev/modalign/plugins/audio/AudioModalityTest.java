package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import dev.modalign.testkit.AbstractModalityContractTest;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AudioModalityTest extends AbstractModalityContractTest<AudioModality.Params> {

    @TempDir
    static Path dir;

    /** Defaults but a 1 s window, so tests stay small. */
    static AudioModality.Params params(double maxSeconds, PadMode padMode, boolean mask) {
        AudioModality.Params d = AudioModality.Params.defaults();
        return new AudioModality.Params(d.sampleRate(), d.resampleQuality(), maxSeconds, Math.max(maxSeconds, 3.0),
                padMode, d.nFft(), d.hop(), d.nMels(), d.fMin(), d.fMax(), d.format(), d.rawEncoding(), d.rawChannels(),
                d.rawSampleRate(), d.mean(), d.std(), mask);
    }

    static AudioModality modality(AudioModality.Params params) {
        return new AudioModality(params, TestContext.builder().optBaseDir(dir).build());
    }

    static Path write(String name, byte[] bytes) {
        try {
            return Files.write(dir.resolve(name), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    protected ComponentFactory<AudioModality.Params, Modality<?>> factory() {
        return AudioPlugin.AUDIO;
    }

    @Override
    protected AudioModality.Params params() {
        return params(1.0, PadMode.ZERO, true);
    }

    @Override
    protected List<Object> validRaws() {
        float[] tone = TestAudio.sine(440, 16000, 12000);
        float[] stereoLeft = TestAudio.sine(1000, 44100, 50000, 0.4, 0);
        float[] stereoRight = TestAudio.sine(300, 44100, 50000, 0.2, 0);
        Path stereo = write("stereo24.wav", TestAudio.wav(new float[][] {stereoLeft, stereoRight}, 44100, 24, false,
                true, true));
        write("eight.wav", TestAudio.wav(new float[][] {TestAudio.sine(2000, 8000, 4000)}, 8000, 8, false, false, false));
        return List.of(TestAudio.wav16(tone, 16000), stereo, dir.resolve("eight.wav").toString(), tone);
    }

    @Override
    protected Object invalidRaw() {
        byte[] wav = TestAudio.wav16(TestAudio.sine(440, 16000, 1000), 16000);
        return Arrays.copyOf(wav, wav.length - 100);
    }

    @Test
    void specIsAOneChannelImageOfMelBandsByFrames() {
        AudioModality modality = modality(AudioModality.Params.defaults());
        assertEquals(new ImageSpec(1, 64, 501), modality.spec(), "5 s at 16 kHz, hop 160: 1 + 80000 / 160 frames");
        assertEquals(new ImageSpec(1, 64, 101), modality(params(1.0, PadMode.ZERO, false)).spec());
    }

    @Test
    void everySampleFormatDecodesToTheSameWaveform() {
        int rate = 16000;
        float[] x = TestAudio.sine(440, rate, 1600, 0.6, 0.1);
        float[] d = TestAudio.sine(97, rate, 1600, 0.2, 0);
        float[] left = new float[x.length];
        float[] right = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            left[i] = x[i] + d[i];
            right[i] = x[i] - d[i];
        }
        AudioModality modality = modality(params(0.1, PadMode.ZERO, false));
        Object[][] cases = {
            {8, false, 1.0 / 128}, {16, false, 1.0 / 32768}, {24, false, 1.0 / 8388608},
            {32, false, 1e-7}, {32, true, 1e-7}, {64, true, 1e-7}};
        for (Object[] c : cases) {
            int bits = (int) c[0];
            boolean floats = (boolean) c[1];
            double step = (double) c[2];
            for (boolean extensible : new boolean[] {false, true}) {
                AudioExample mono = modality.decode(TestAudio.wav(new float[][] {x}, rate, bits, floats, extensible, false),
                        "mono");
                AudioExample stereo = modality.decode(TestAudio.wav(new float[][] {left, right}, rate, bits, floats,
                        extensible, true), "stereo");
                for (int i = 0; i < x.length; i++) {
                    String what = bits + "-bit " + (floats ? "float" : "PCM") + (extensible ? " extensible" : "")
                            + " sample " + i;
                    assertEquals(x[i], mono.clip()[i], step, "mono " + what);
                    // The mean of the channels; each is rounded, so up to one step off.
                    assertEquals(x[i], stereo.clip()[i], step, "stereo mixed to mono, " + what);
                }
            }
        }
    }

    @Test
    void rawPcmIsDecodedAndResampledAsItsParametersSay() {
        int rate = 8000;
        float[] x = TestAudio.sine(1000, rate, 8000, 0.5, 0);
        ByteBuffer pcm = ByteBuffer.allocate(x.length * 4).order(ByteOrder.BIG_ENDIAN);
        for (float v : x) {
            short s = (short) Math.round(v * 32767);
            pcm.putShort(s).putShort(s);
        }
        AudioModality.Params d = params(1.0, PadMode.ZERO, false);
        AudioModality raw = modality(new AudioModality.Params(d.sampleRate(), d.resampleQuality(), 1.0, 3.0, PadMode.ZERO,
                400, 160, 64, 0.0, null, AudioModality.Format.RAW, PcmEncoding.S16BE, 2, rate, 0.0, 1.0, false));
        AudioExample example = raw.decode(pcm.array(), "raw");
        assertEquals(16000, example.clip().length, "1 s at 8 kHz resampled to 16 kHz");
        assertEquals(0.5, TestAudio.amplitude(example.clip(), 1000, 15000, 1000, 16000), 0.005);
        DataException odd = assertThrows(DataException.class,
                () -> raw.decode(Arrays.copyOf(pcm.array(), 4001), "data.csv:3 audio"));
        assertTrue(odd.getMessage().startsWith("data.csv:3 audio") && odd.getMessage().contains("4-byte frames"),
                odd.getMessage());
    }

    @Test
    void shortClipsArePaddedAndMasked() {
        // 0.5 s clip in a 1 s window: 1 + 8000 / 160 = 51 real frames of 101.
        float[] half = TestAudio.sine(1000, 16000, 8000);
        AudioModality zero = modality(params(1.0, PadMode.ZERO, true));
        AudioExample padded = zero.decode(half, "short");
        assertEquals(101, padded.frames());
        assertEquals(51, padded.realFrames());
        float floor = (float) Math.log(1e-6);
        for (int m = 0; m < 64; m++) {
            for (int t = 55; t < 101; t++) {
                assertEquals(floor, padded.features()[m * 101 + t], 1e-4f, "zero padding is silence at band " + m);
            }
        }
        AudioExample repeated = modality(params(1.0, PadMode.REPEAT, true)).decode(half, "short");
        assertEquals(51, repeated.realFrames());
        // The clip is 50 hops long, so frame t + 50 sees the same samples as frame t away from the edges.
        for (int m = 0; m < 64; m++) {
            for (int t = 3; t < 45; t++) {
                assertEquals(repeated.features()[m * 101 + t], repeated.features()[m * 101 + t + 50], 1e-3f,
                        "repeat padding at band " + m + " frame " + (t + 50));
            }
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            AudioExample full = zero.decode(TestAudio.sine(1000, 16000, 20000), "long");
            NDList batch = zero.collate(List.of(padded, full), manager);
            assertEquals(2, batch.size());
            assertEquals(new Shape(2, 1, 64, 101), batch.get(0).getShape());
            assertEquals(DataType.FLOAT32, batch.get(0).getDataType());
            float[] mask = batch.get(1).toFloatArray();
            assertEquals(new Shape(2, 101), batch.get(1).getShape());
            for (int t = 0; t < 101; t++) {
                assertEquals(t < 51 ? 1f : 0f, mask[t], "mask of the short clip at frame " + t);
                assertEquals(1f, mask[101 + t], "mask of the long clip at frame " + t);
            }
            assertArrayEquals(Arrays.copyOf(padded.features(), 64 * 101),
                    Arrays.copyOf(batch.get(0).toFloatArray(), 64 * 101), "collated features, mean 0 and std 1");
        }
    }

    @Test
    void longClipsKeepTheHeadAndTheSourceSecondsOnly() {
        float[] tone = TestAudio.sine(500, 16000, 16000 * 5);
        AudioModality modality = modality(params(1.0, PadMode.ZERO, false));
        AudioExample example = modality.decode(tone, "long");
        assertEquals(3 * 16000, example.clip().length, "source_seconds 3 keeps 3 s");
        assertEquals(0, example.windowStart());
        assertEquals(101, example.realFrames());
        LogMelSpectrogram spectrogram = new LogMelSpectrogram(16000, 400, 160, 64, 0, 8000);
        assertArrayEquals(spectrogram.compute(tone, 0, 16000), example.features(), "the head's log-mel");
        // From a file at another rate: 3 s are kept, resampled, and the length follows the source.
        Path file = write("long.wav", TestAudio.wav16(TestAudio.sine(500, 22050, 22050 * 5), 22050));
        AudioExample resampled = modality.decode(file, "file");
        assertEquals(3 * 16000, resampled.clip().length);
        assertEquals(0.5, TestAudio.amplitude(resampled.clip(), 100, 47900, 500, 16000), 0.002,
                "the tone's level up to the end of what is kept: enough source samples were read for the filter");
    }

    @Test
    void collateNormalisesWithMeanAndStd() {
        AudioModality.Params d = params(1.0, PadMode.ZERO, false);
        AudioModality modality = modality(new AudioModality.Params(d.sampleRate(), d.resampleQuality(), 1.0, 3.0,
                PadMode.ZERO, 400, 160, 64, 0.0, null, AudioModality.Format.WAV, PcmEncoding.S16LE, 1, null, -4.0, 2.0,
                false));
        AudioExample example = modality.decode(TestAudio.sine(700, 16000, 16000), "x");
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList batch = modality.collate(List.of(example), manager);
            assertEquals(1, batch.size(), "no mask unless asked for");
            float[] values = batch.get(0).toFloatArray();
            for (int i = 0; i < values.length; i += 97) {
                assertEquals((example.features()[i] + 4) / 2, values[i], 1e-5f);
            }
        }
    }

    @Test
    void aToneInAWavFilePeaksInTheMelBandOfItsFrequency() {
        // 1 kHz at 48 kHz, resampled to 16 kHz: band of the largest filter weight at 1 kHz's bin (1000 / 40 = 25).
        Path file = write("tone48k.wav", TestAudio.wav16(TestAudio.sine(1000, 48000, 48000), 48000));
        AudioExample example = modality(params(1.0, PadMode.ZERO, false)).decode(file.toString(), "tone");
        MelFilterBank filters = new MelFilterBank(16000, 400, 64, 0, 8000);
        double[][] librosa = LogMelSpectrogramTest.librosaFilters();
        int expected = 0;
        for (int m = 1; m < 64; m++) {
            if (librosa[m][25] > librosa[expected][25]) {
                expected = m;
            }
        }
        assertTrue(filters.centreHz(expected) > 900 && filters.centreHz(expected) < 1100);
        int t = 50;
        int best = 0;
        for (int m = 1; m < 64; m++) {
            if (example.features()[m * 101 + t] > example.features()[best * 101 + t]) {
                best = m;
            }
        }
        assertEquals(expected, best);
    }

    @Test
    void damagedFilesAreRefusedNamingTheOriginAndWhatIsWrong() {
        AudioModality modality = modality(params(1.0, PadMode.ZERO, false));
        byte[] wav = TestAudio.wav16(TestAudio.sine(440, 16000, 1000), 16000);
        Path truncated = write("truncated.wav", Arrays.copyOf(wav, wav.length - 10));
        assertMessage(modality, truncated, "truncated", "truncated.wav", "declares 2000 bytes");
        assertMessage(modality, Arrays.copyOf(wav, 40), "truncated or corrupt", "no 'data' chunk");
        assertMessage(modality, Arrays.copyOf(wav, 30), "corrupt", "'fmt ' chunk", "past the end");
        assertMessage(modality, "ID3\u0004 an mp3 file".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
                "not a WAV file", "format: raw");
        byte[] oddData = wav.clone();
        oddData[40] = (byte) 201;
        assertMessage(modality, Arrays.copyOf(oddData, oddData.length), "whole number of 2-byte frames");
        byte[] alaw = wav.clone();
        alaw[20] = 6;
        assertMessage(modality, alaw, "A-law", "not supported");
        byte[] empty = Arrays.copyOf(wav, 44);
        empty[40] = 0;
        empty[41] = 0;
        assertMessage(modality, empty, "holds no audio");
        byte[] oddRate = wav.clone();
        java.nio.ByteBuffer.wrap(oddRate).order(ByteOrder.LITTLE_ENDIAN).putInt(24, 999_983);
        assertMessage(modality, oddRate, "resampling from 999983 Hz to 16000 Hz", "convert the recording");
        assertMessage(modality, "missing.wav", "no audio file at", "missing.wav");
        assertMessage(modality, 42, "found Integer");
        assertMessage(modality, new byte[0], "empty");
    }

    private static void assertMessage(AudioModality modality, Object raw, String... parts) {
        DataException error = assertThrows(DataException.class, () -> modality.decode(raw, "clips.csv:7 field 'audio'"));
        assertTrue(error.getMessage().startsWith("clips.csv:7 field 'audio'"), error.getMessage());
        for (String part : parts) {
            assertTrue(error.getMessage().contains(part), "'" + part + "' missing from: " + error.getMessage());
        }
    }

    @Test
    void badParametersNameTheirKey() {
        AudioModality.Params d = AudioModality.Params.defaults();
        InvalidParamException odd = assertThrows(InvalidParamException.class, () -> new AudioModality.Params(16000,
                d.resampleQuality(), 5.0, 10.0, PadMode.ZERO, 401, 160, 64, 0.0, null, d.format(), d.rawEncoding(), 1,
                null, 0.0, 1.0, false));
        assertEquals("n_fft", odd.key());
        InvalidParamException fMax = assertThrows(InvalidParamException.class, () -> new AudioModality.Params(16000,
                d.resampleQuality(), 5.0, 10.0, PadMode.ZERO, 400, 160, 64, 0.0, 9000.0, d.format(), d.rawEncoding(), 1,
                null, 0.0, 1.0, false));
        assertEquals("f_max", fMax.key());
        InvalidParamException source = assertThrows(InvalidParamException.class, () -> new AudioModality.Params(16000,
                d.resampleQuality(), 5.0, 2.0, PadMode.ZERO, 400, 160, 64, 0.0, null, d.format(), d.rawEncoding(), 1,
                null, 0.0, 1.0, false));
        assertEquals("source_seconds", source.key());
        // 128 mel bands on a 64-point FFT: the lowest filters fall between bins.
        InvalidParamException empty = assertThrows(InvalidParamException.class, () -> modality(
                new AudioModality.Params(16000, d.resampleQuality(), 5.0, 10.0, PadMode.ZERO, 64, 160, 128, 0.0, null,
                        d.format(), d.rawEncoding(), 1, null, 0.0, 1.0, false)));
        assertEquals("n_mels", empty.key());
        assertTrue(empty.getMessage().contains("lower n_mels or raise n_fft"), empty.getMessage());
    }
}
