package dev.modalign.plugins.audio;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Audio clips as log-mel spectrograms, the input of CNN audio encoders (PANNs, AST) and of the
 * audio tower of CLAP ("Large-Scale Contrastive Language-Audio Pretraining with Feature Fusion and
 * Keyword-to-Caption Augmentation", Wu et al., 2023).
 *
 * <p>Decoding, on loader threads and in plain Java:
 * <ol>
 *   <li>WAV (PCM 8/16/24/32-bit, float 32/64-bit, any number of channels; {@link WavDecoder}) from
 *       bytes or a file, headerless PCM with {@code format: raw}, or a float[] waveform; channels
 *       are averaged to mono. Only the first {@code source_seconds} are read.
 *   <li>Resampled to {@code sample_rate} by Kaiser-windowed sinc interpolation ({@link
 *       SincResampler}, resampy's filters), which low-passes below the output's Nyquist frequency
 *       when downsampling.
 *   <li>The window of {@code max_seconds} from the clip's start (a training augmentation, {@code
 *       random-segment}, moves it to a random place); a shorter clip is padded per {@code
 *       pad_mode}, zeros or repeats.
 *   <li>Its log-mel spectrogram ({@link LogMelSpectrogram}: librosa's melspectrogram with Slaney
 *       mel filters and power 2, then ln(x + 1e-6)).
 * </ol>
 *
 * <p>Collated as float32 [B, 1, n_mels, frames], (x - mean) / std, with frames = 1 + window samples /
 * hop (501 for 5 s at 16 kHz with hop 160). Its {@link ImageSpec}(1, n_mels, frames) is what the
 * {@code cnn} encoder takes: a one-channel image whose height is frequency and width time. The
 * cnn shrinks its input until the longer side is at most its {@code max_stem_size} (32 by
 * default), so the first stage sees a 64 x 501 spectrogram at 4 x 32 (pooled 8 x 8, then a stride
 * of 2); {@code max_stem_size: 128} keeps 16 x 126, more frequency detail at about 16 times the
 * cost of the first stage. With {@code mask: true} a
 * second array, mask [B, frames] (1 for frames of the clip, 0 for padding), follows, for encoders
 * that pool over time themselves; the {@code cnn} and {@code mlp} encoders take one array only, so
 * leave it off for them.
 */
public final class AudioModality implements Modality<AudioExample> {

    /** Where the bytes of a recording are understood. */
    public enum Format {
        /** RIFF WAVE; other bytes are refused, naming what they start with. */
        WAV,
        /** Headerless PCM as {@code raw_encoding}, {@code raw_channels} and {@code raw_sample_rate} say. */
        RAW
    }

    /** The parameters of {@code audio}. */
    public record Params(
            @Doc("Sample rate the audio is resampled to, in Hz") @Default("16000") int sampleRate,
            @Doc("Resampling filter: fast (resampy's kaiser_fast: passes up to 0.75 of the output's Nyquist frequency,"
                    + " removes aliases by > 90 dB) or best (kaiser_best: up to 0.9, four to six times the work)")
            @Default("fast") ResampleQuality resampleQuality,
            @Doc("Length of the window the encoder sees, in seconds: longer clips are cropped (the head, or a random"
                    + " segment with the random-segment augmentation), shorter ones padded per pad_mode")
            @Default("5.0") double maxSeconds,
            @Doc("How much of each recording is read and kept, in seconds (>= max_seconds): what random-segment can"
                    + " crop from; null keeps whole recordings (memory grows with their length)")
            @Default("10.0") Double sourceSeconds,
            @Doc("How clips shorter than max_seconds are filled: zero (silence) or repeat (the clip again, CLAP's"
                    + " repeatpad)") @Default("zero") PadMode padMode,
            @Doc("FFT and window length in samples (even; any size, not only powers of two)") @Default("400") int nFft,
            @Doc("Hop between frames in samples") @Default("160") int hop,
            @Doc("Number of mel bands (Slaney mel scale and area normalisation, librosa's default)")
            @Default("64") int nMels,
            @Doc("Lowest frequency of the mel filters, in Hz") @Default("0.0") double fMin,
            @Doc("Highest frequency of the mel filters, in Hz; null for sample_rate / 2") @Default("null") Double fMax,
            @Doc("How the bytes of a recording are read: wav (RIFF WAVE), or raw (headerless PCM as raw_encoding,"
                    + " raw_channels and raw_sample_rate say)") @Default("wav") Format format,
            @Doc("Sample encoding of raw PCM: u8, s8, s16le, s16be, s24le, s32le, f32le or f64le")
            @Default("s16le") PcmEncoding rawEncoding,
            @Doc("Interleaved channels of raw PCM, averaged to mono") @Default("1") int rawChannels,
            @Doc("Sample rate of raw PCM and of float[] waveforms, in Hz; null for sample_rate")
            @Default("null") Integer rawSampleRate,
            @Doc("Subtracted from the log-mel values when collating (e.g. a data set's mean)") @Default("0.0") double mean,
            @Doc("Divided by after subtracting mean when collating (e.g. a data set's standard deviation)")
            @Default("1.0") double std,
            @Doc("Also collate mask [B, frames], 1 for frames of the clip and 0 for padding, as a second array; the"
                    + " cnn and mlp encoders read one array, so leave it false for them") @Default("false") boolean mask) {

        public Params {
            if (sampleRate < 1000 || sampleRate > 384_000) {
                throw new InvalidParamException("sample_rate", "must be between 1000 and 384000 Hz, found " + sampleRate
                        + "; 16000 is usual for speech and CLAP-style audio towers use 48000");
            }
            if (!(maxSeconds > 0) || maxSeconds > 600) {
                throw new InvalidParamException("max_seconds", "must be > 0 and at most 600, found " + maxSeconds);
            }
            if (resampleQuality == null) {
                throw new InvalidParamException("resample_quality", "must be best or fast, found nothing");
            }
            if (nFft < 16 || nFft > 16384 || nFft % 2 != 0) {
                throw new InvalidParamException("n_fft", "must be an even number of samples between 16 and 16384, found "
                        + nFft + "; 400 (25 ms at 16 kHz) or 512 are usual");
            }
            if (hop < 1) {
                throw new InvalidParamException("hop", "must be >= 1 sample, found " + hop + "; 160 (10 ms at 16 kHz) is usual");
            }
            if (sourceSeconds != null && !(sourceSeconds >= maxSeconds)) {
                throw new InvalidParamException("source_seconds", "must be >= max_seconds (" + maxSeconds + "), found "
                        + sourceSeconds + "; or null to keep whole recordings");
            }
            if (nMels < 1 || nMels > 512) {
                throw new InvalidParamException("n_mels", "must be between 1 and 512, found " + nMels);
            }
            double nyquist = sampleRate / 2.0;
            if (!(fMin >= 0) || fMin >= (fMax == null ? nyquist : fMax)) {
                throw new InvalidParamException("f_min", "must be >= 0 and below f_max (" + (fMax == null ? nyquist : fMax)
                        + " Hz), found " + fMin);
            }
            if (fMax != null && !(fMax <= nyquist)) {
                throw new InvalidParamException("f_max", "must be at most sample_rate / 2 = " + nyquist + " Hz, found " + fMax);
            }
            if (rawChannels < 1 || rawChannels > 256) {
                throw new InvalidParamException("raw_channels", "must be between 1 and 256, found " + rawChannels);
            }
            if (rawSampleRate != null && (rawSampleRate < 1 || rawSampleRate > 1_000_000)) {
                throw new InvalidParamException("raw_sample_rate", "must be between 1 and 1000000 Hz, found " + rawSampleRate);
            }
            if (!Double.isFinite(mean)) {
                throw new InvalidParamException("mean", "must be a finite number, found " + mean);
            }
            if (!(std > 0) || !Double.isFinite(std)) {
                throw new InvalidParamException("std", "must be > 0, found " + std);
            }
            if (format == null) {
                throw new InvalidParamException("format", "must be wav or raw, found nothing");
            }
            if (padMode == null) {
                throw new InvalidParamException("pad_mode", "must be zero or repeat, found nothing");
            }
            if (rawEncoding == null) {
                throw new InvalidParamException("raw_encoding", "must be one of u8, s8, s16le, s16be, s24le, s32le, f32le,"
                        + " f64le, found nothing");
            }
        }

        /** The defaults, as YAML's {@code modality: audio} gives them. */
        public static Params defaults() {
            return new Params(16000, ResampleQuality.FAST, 5.0, 10.0, PadMode.ZERO, 400, 160, 64, 0.0, null, Format.WAV,
                    PcmEncoding.S16LE, 1, null, 0.0, 1.0, false);
        }
    }

    /** The largest polyphase filter table built, 8 M floats (32 MiB); common rate pairs need under 100 k. */
    static final long MAX_FILTER_TAPS = 8L << 20;
    static final int MAX_CACHED_RATES = 32;

    private final Params params;
    private final Path baseDir;
    private final ClipFeaturizer featurizer;
    private final int keepSamples;
    private final int rawRate;
    private final Map<Integer, SincResampler> resamplers = new ConcurrentHashMap<>();

    public AudioModality(Params params, ComponentContext context) {
        this.params = params;
        this.baseDir = context.baseDir();
        int windowSamples = (int) Math.round(params.maxSeconds() * params.sampleRate());
        if (windowSamples < 1) {
            throw new InvalidParamException("max_seconds", "gives no sample at " + params.sampleRate() + " Hz; raise it");
        }
        double fMax = params.fMax() == null ? params.sampleRate() / 2.0 : params.fMax();
        LogMelSpectrogram spectrogram = new LogMelSpectrogram(params.sampleRate(), params.nFft(), params.hop(),
                params.nMels(), params.fMin(), fMax);
        int empty = spectrogram.filters().emptyBands();
        if (empty > 0) {
            throw new InvalidParamException("n_mels", empty + " of the " + params.nMels() + " mel filters between "
                    + params.fMin() + " and " + fMax + " Hz are narrower than one FFT bin ("
                    + params.sampleRate() / (double) params.nFft() + " Hz) and would always be 0; lower n_mels or raise n_fft");
        }
        this.featurizer = new ClipFeaturizer(params.sampleRate(), windowSamples, params.padMode(), spectrogram);
        this.keepSamples = params.sourceSeconds() == null ? Integer.MAX_VALUE
                : (int) Math.min(Integer.MAX_VALUE - 8L, Math.max(windowSamples,
                        Math.round(params.sourceSeconds() * params.sampleRate())));
        this.rawRate = params.rawSampleRate() == null ? params.sampleRate() : params.rawSampleRate();
    }

    @Override
    public Class<AudioExample> exampleType() {
        return AudioExample.class;
    }

    @Override
    public InputSpec spec() {
        return new ImageSpec(1, featurizer.melBands(), featurizer.frames());
    }

    /**
     * Decodes {@code byte[]} (a WAV file's bytes, or raw PCM), a {@link Path} or {@link String} (a
     * file, resolved against the experiment's directory when relative) or a {@code float[]} (a
     * mono waveform at {@code raw_sample_rate}).
     */
    @Override
    public AudioExample decode(Object raw, String origin) {
        PcmAudio audio;
        if (raw instanceof float[] samples) {
            if (samples.length == 0) {
                throw new DataException(origin + ": the waveform is empty");
            }
            audio = new PcmAudio(samples, rawRate, samples.length);
        } else if (raw instanceof byte[] bytes) {
            if (bytes.length == 0) {
                throw new DataException(origin + ": the audio bytes are empty");
            }
            audio = read(ByteSource.of(bytes), origin + ": the bytes (" + bytes.length + ")", origin);
        } else {
            Path file = file(raw, origin);
            if (!Files.isRegularFile(file)) {
                throw new DataException(origin + ": " + (Files.exists(file) ? file.toAbsolutePath() + " is not a file"
                        : "no audio file at " + file.toAbsolutePath()));
            }
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                audio = read(ByteSource.of(channel), origin + ": " + file.toAbsolutePath(), origin);
            } catch (IOException | UncheckedIOException e) {
                throw new DataException(origin + ": cannot read " + file.toAbsolutePath() + ": " + e.getMessage(), e);
            }
        }
        return featurizer.featurize(resample(audio, origin), 0);
    }

    private PcmAudio read(ByteSource source, String where, String origin) {
        Format format = params.format();
        if (format == Format.RAW) {
            return readRaw(source, where, origin);
        }
        return WavDecoder.decode(source, rate -> framesToRead(rate, origin), where);
    }

    private PcmAudio readRaw(ByteSource source, String where, String origin) {
        PcmEncoding encoding = params.rawEncoding();
        int frameBytes = encoding.bytes() * params.rawChannels();
        long size = source.size();
        if (size % frameBytes != 0) {
            throw new DataException(where + " is not a whole number of " + frameBytes + "-byte frames (" + size
                    + " bytes of " + params.rawChannels() + " channel(s) of " + encoding.name().toLowerCase(java.util.Locale.ROOT)
                    + "); check raw_encoding and raw_channels, or whether the file is truncated");
        }
        long total = size / frameBytes;
        long frames = Math.min(total, framesToRead(rawRate, origin));
        if (frames * frameBytes > Integer.MAX_VALUE - 8) {
            throw new DataException(where + ": " + frames + " frames of " + frameBytes + " bytes are more than one array"
                    + " holds; set source_seconds to keep less of each recording");
        }
        byte[] data = source.read(0, (int) (frames * frameBytes));
        return new PcmAudio(encoding.decodeMono(data, 0, (int) frames, params.rawChannels()), rawRate, total);
    }

    /** Source frames needed for {@code source_seconds} at the modality's rate, the filter's reach included. */
    private long framesToRead(int rate, String origin) {
        if (keepSamples == Integer.MAX_VALUE) {
            return Long.MAX_VALUE;
        }
        return rate == params.sampleRate() ? keepSamples : resampler(rate, origin).inputNeeded(keepSamples);
    }

    private float[] resample(PcmAudio audio, String origin) {
        float[] samples = audio.samples();
        if (audio.sampleRate() == params.sampleRate()) {
            return samples.length > keepSamples ? java.util.Arrays.copyOf(samples, keepSamples) : samples;
        }
        SincResampler resampler = resampler(audio.sampleRate(), origin);
        // The clip's length follows the whole recording, not the part that was read.
        long length = Math.min(keepSamples, resampler.outputLength(audio.totalFrames()));
        return resampler.resample(samples, samples.length, (int) length);
    }

    private SincResampler resampler(int rate, String origin) {
        SincResampler cached = resamplers.get(rate);
        if (cached != null) {
            return cached;
        }
        long taps = SincResampler.tableSize(rate, params.sampleRate(), params.resampleQuality());
        if (taps > MAX_FILTER_TAPS) {
            throw new DataException(origin + ": resampling from " + rate + " Hz to " + params.sampleRate() + " Hz needs a filter"
                    + " table of " + taps + " taps, more than the " + MAX_FILTER_TAPS + " this modality builds (the rates"
                    + " share no large common divisor); convert the recording to a common rate such as 48000 Hz first");
        }
        SincResampler resampler = new SincResampler(rate, params.sampleRate(), params.resampleQuality());
        // Real data has a handful of rates; a flood of odd ones (damaged headers) is not kept.
        if (resamplers.size() < MAX_CACHED_RATES) {
            resamplers.putIfAbsent(rate, resampler);
        }
        return resampler;
    }

    private Path file(Object raw, String origin) {
        Path path;
        if (raw instanceof Path given) {
            path = given;
        } else if (raw instanceof String text && !text.isBlank()) {
            try {
                path = Path.of(text.trim());
            } catch (InvalidPathException e) {
                throw new DataException(origin + ": '" + text + "' is not a file path: " + e.getMessage(), e);
            }
        } else {
            throw new DataException(origin + ": an audio field must be WAV or PCM bytes, a file path or a float[]"
                    + " waveform, found " + (raw == null ? "nothing" : raw instanceof String ? "an empty text"
                    : raw.getClass().getSimpleName()));
        }
        return baseDir == null ? path : baseDir.resolve(path);
    }

    /** features float32 [B, 1, n_mels, frames], (x - mean) / std; with mask: true, mask float32 [B, frames]. */
    @Override
    public NDList collate(List<AudioExample> examples, NDManager manager) {
        int bands = featurizer.melBands();
        int frames = featurizer.frames();
        int plane = bands * frames;
        float[] batch = new float[examples.size() * plane];
        float[] masks = params.mask() ? new float[examples.size() * frames] : null;
        float mean = (float) params.mean();
        float std = (float) params.std();
        for (int i = 0; i < examples.size(); i++) {
            AudioExample example = examples.get(i);
            if (example.melBands() != bands || example.frames() != frames) {
                throw new IllegalStateException("example " + i + " has " + example.melBands() + "x" + example.frames()
                        + " features but this modality collates " + bands + "x" + frames
                        + "; it was made by another audio modality");
            }
            float[] features = example.features();
            int offset = i * plane;
            for (int j = 0; j < plane; j++) {
                batch[offset + j] = (features[j] - mean) / std;
            }
            if (masks != null) {
                java.util.Arrays.fill(masks, i * frames, i * frames + example.realFrames(), 1f);
            }
        }
        NDList out = new NDList(manager.create(batch, new Shape(examples.size(), 1, bands, frames)));
        if (masks != null) {
            out.add(manager.create(masks, new Shape(examples.size(), frames)));
        }
        return out;
    }
}
