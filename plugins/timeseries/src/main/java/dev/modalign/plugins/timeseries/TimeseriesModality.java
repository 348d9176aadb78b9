package dev.modalign.plugins.timeseries;

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
import dev.modalign.api.VectorSpec;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;

/**
 * Multichannel numeric series (sensor readings, physiological signals, prices): one value per
 * channel per time step, from a CSV file, a JSON array or a float[] field.
 *
 * <p>Decoding, on loader threads: the values are read ({@link CsvSeriesReader}, {@link
 * JsonSeriesParser}), normalised per channel over the whole record ({@code normalise}), and a
 * window of {@code window} time steps is placed at the record's start (or centre); the {@code
 * random-window} training augmentation moves it. Statistics come from the whole record rather than
 * the window, so every window of a record is scaled alike and the augmentations' strengths
 * ({@code jitter}'s sigma, ...) are in normalised units. A record shorter than the window is padded
 * with zeros after normalisation, which is the channel's mean under z-score.
 *
 * <p>Collated as float32, channel-major, by {@code layout}:
 * <ul>
 *   <li>{@code flat}: [B, channels * window] with a {@link VectorSpec}, for the {@code mlp} encoder;
 *   <li>{@code image}: [B, 1, channels, window] with an {@link ImageSpec}, for the {@code cnn}
 *       encoder, whose 3 x 3 convolutions then mix neighbouring channels and time steps;
 *   <li>{@code channels-first}: [B, channels, window] with a {@link SeriesSpec}, for a 1-D
 *       convolutional or recurrent encoder of a plugin that knows that spec.
 * </ul>
 * With {@code mask: true} a second array, mask float32 [B, window], marks the real time steps (1)
 * and the padding (0); the built-in encoders read one array only, so leave it off for them.
 */
public final class TimeseriesModality implements Modality<SeriesExample> {

    /** Where the window sits before any augmentation, which is where evaluation reads it. */
    public enum Position {
        START, CENTRE
    }

    /** Per-channel scaling, computed over each record or given. */
    public enum Normalise {
        /** Values as they are. */
        NONE,
        /** (x - mean) / std of the record's channel; a constant channel becomes 0. */
        ZSCORE,
        /** (x - min) / (max - min) of the record's channel, into [0, 1]; a constant channel becomes 0. */
        MINMAX,
        /** (x - mean) / std with the {@code mean} and {@code std} parameters, e.g. a training set's statistics. */
        GIVEN
    }

    /** How a batch is laid out for the encoder. */
    public enum Layout {
        FLAT, IMAGE, CHANNELS_FIRST
    }

    /** How a flat array (a float[] field or a flat JSON array) holds several channels. */
    public enum ArrayLayout {
        /** Time step by time step: [t0c0, t0c1, t1c0, t1c1, ...], as the rows of a CSV file one after another. */
        TIME_MAJOR,
        /** Channel by channel: [c0t0, c0t1, ..., c1t0, c1t1, ...]. */
        CHANNEL_MAJOR
    }

    /** What separates the columns of a CSV file. */
    public enum Delimiter {
        /** Tab, comma or semicolon, whichever the first row holds (in that order), else runs of whitespace. */
        AUTO, COMMA, SEMICOLON, TAB, WHITESPACE
    }

    /** The parameters of {@code timeseries}. */
    public record Params(
            @Doc("Channels (variables) per time step; a CSV file's (selected) columns must match") @Default("1")
            int channels,
            @Doc("Time steps the encoder sees; longer records are windowed, shorter ones padded with zeros")
            @Default("128") int window,
            @Doc("Window starts are multiples of it: where random-window may place the window, and the centre"
                    + " position rounded down") @Default("1") int stride,
            @Doc("Where the window sits without augmentation (and so in evaluation): start or centre")
            @Default("start") Position position,
            @Doc("Per-channel normalisation over each record: none, zscore, minmax, or given (mean and std below)")
            @Default("zscore") Normalise normalise,
            @Doc("With normalise: given, the per-channel means: one value for every channel or one per channel")
            @Default("null") List<Double> mean,
            @Doc("With normalise: given, the per-channel standard deviations (> 0): one value or one per channel")
            @Default("null") List<Double> std,
            @Doc("Batch layout: flat [B, C*window] for mlp, image [B, 1, C, window] for cnn, channels-first"
                    + " [B, C, window]") @Default("flat") Layout layout,
            @Doc("Whether a CSV file's first row names its columns; null decides by whether it holds a non-number")
            @Default("null") Boolean header,
            @Doc("CSV column separator: auto, comma, semicolon, tab or whitespace") @Default("auto") Delimiter delimiter,
            @Doc("CSV columns to read, by header name or 0-based index, one per channel; null reads every column")
            @Default("null") List<String> columns,
            @Doc("How a float[] field or flat JSON array orders several channels: time-major (t0c0, t0c1, t1c0, ...)"
                    + " or channel-major") @Default("time-major") ArrayLayout arrayLayout,
            @Doc("Also collate mask [B, window], 1 for real time steps and 0 for padding, as a second array; mlp"
                    + " and cnn read one array, so leave it false for them") @Default("false") boolean mask) {

        public Params {
            if (channels < 1 || channels > 65536) {
                throw new InvalidParamException("channels", "must be between 1 and 65536, found " + channels);
            }
            if (window < 1 || window > 10_000_000) {
                throw new InvalidParamException("window", "must be between 1 and 10000000 time steps, found " + window);
            }
            if ((long) channels * window > 100_000_000L) {
                throw new InvalidParamException("window", channels + " channels x " + window + " steps is more than the"
                        + " 100000000 values an example may hold; use a shorter window");
            }
            if (stride < 1) {
                throw new InvalidParamException("stride", "must be >= 1, found " + stride);
            }
            if (position == null || normalise == null || layout == null || delimiter == null || arrayLayout == null) {
                String key = position == null ? "position" : normalise == null ? "normalise" : layout == null ? "layout"
                        : delimiter == null ? "delimiter" : "array_layout";
                throw new InvalidParamException(key, "needs a value, found nothing");
            }
            if (normalise == Normalise.GIVEN) {
                checkPerChannel("mean", mean, channels);
                checkPerChannel("std", std, channels);
                if (std.stream().anyMatch(s -> !(s > 0))) {
                    throw new InvalidParamException("std", "every value must be > 0, found " + std);
                }
            } else if (mean != null || std != null) {
                throw new InvalidParamException(mean != null ? "mean" : "std", "is used only with normalise: given, but"
                        + " normalise is " + normalise.name().toLowerCase(java.util.Locale.ROOT)
                        + "; set normalise: given or remove it");
            }
            if (columns != null) {
                if (columns.isEmpty() || columns.stream().anyMatch(c -> c == null || c.isBlank())) {
                    throw new InvalidParamException("columns", "must name at least one column and no empty ones, found "
                            + columns + "; or null for every column");
                }
                if (columns.size() != channels) {
                    throw new InvalidParamException("channels", "is " + channels + " but columns names " + columns.size()
                            + " " + columns + "; one column per channel");
                }
                columns = List.copyOf(columns);
            }
        }

        private static void checkPerChannel(String key, List<Double> values, int channels) {
            if (values == null || (values.size() != 1 && values.size() != channels)) {
                throw new InvalidParamException(key, "with normalise: given, give one value for every channel or one"
                        + " per channel (" + channels + "), found " + values);
            }
            if (values.stream().anyMatch(v -> v == null || !Double.isFinite(v))) {
                throw new InvalidParamException(key, "every value must be a finite number, found " + values);
            }
        }

        /** The defaults with {@code channels} channels and a window of {@code window} steps. */
        public static Params of(int channels, int window) {
            return new Params(channels, window, 1, Position.START, Normalise.ZSCORE, null, null, Layout.FLAT, null,
                    Delimiter.AUTO, null, ArrayLayout.TIME_MAJOR, false);
        }
    }

    private final Params params;
    private final Path baseDir;
    private final CsvSeriesReader csv;

    public TimeseriesModality(Params params, ComponentContext context) {
        this.params = params;
        this.baseDir = context.baseDir();
        this.csv = new CsvSeriesReader(params.delimiter(), params.header(), params.columns());
    }

    @Override
    public Class<SeriesExample> exampleType() {
        return SeriesExample.class;
    }

    @Override
    public InputSpec spec() {
        return switch (params.layout()) {
            case FLAT -> new VectorSpec(params.channels() * params.window());
            case IMAGE -> new ImageSpec(1, params.channels(), params.window());
            case CHANNELS_FIRST -> new SeriesSpec(params.channels(), params.window());
        };
    }

    /**
     * Decodes a {@code float[]} (a flat array, see {@code array_layout}), a {@link String} holding a
     * JSON array, a {@link Path} or other {@link String} (a CSV file, resolved against the
     * experiment's directory when relative), or {@code byte[]} (a CSV file's contents).
     */
    @Override
    public SeriesExample decode(Object raw, String origin) {
        float[] values;
        if (raw instanceof float[] flat) {
            values = fromFlat(flat, origin, "the array");
        } else if (raw instanceof String text && text.stripLeading().startsWith("[")) {
            JsonSeriesParser.Parsed parsed = JsonSeriesParser.parse(text, origin);
            if (parsed.rowLength() == 0) {
                values = fromFlat(parsed.numbers(), origin, "the JSON array");
            } else if (parsed.rowLength() != params.channels()) {
                throw new DataException(origin + ": the JSON series has rows of " + parsed.rowLength() + " values, but"
                        + " channels is " + params.channels() + "; each row is one time step with one value per channel");
            } else {
                values = transpose(parsed.numbers(), params.channels());
            }
        } else if (raw instanceof byte[] bytes) {
            values = fromCsv(csv.read(bytes, "the bytes (" + bytes.length + ")", origin), origin, "the bytes");
        } else {
            Path file = file(raw, origin);
            if (!java.nio.file.Files.isRegularFile(file)) {
                throw new DataException(origin + ": " + (java.nio.file.Files.exists(file)
                        ? file.toAbsolutePath() + " is not a file" : "no series file at " + file.toAbsolutePath()));
            }
            values = fromCsv(csv.read(file, origin), origin, file.toString());
        }
        normalise(values);
        int length = values.length / params.channels();
        return new SeriesExample(values, params.channels(), params.window(), params.stride(), start(length));
    }

    private float[] fromCsv(CsvSeriesReader.Series series, String origin, String what) {
        if (series.channels() != params.channels()) {
            throw new DataException(origin + ": " + what + " has " + series.channels() + " column(s), but channels is "
                    + params.channels() + "; set channels: " + series.channels() + ", or choose the columns with columns:");
        }
        return series.values();
    }

    private float[] fromFlat(float[] flat, String origin, String what) {
        int channels = params.channels();
        if (flat.length == 0) {
            throw new DataException(origin + ": " + what + " is empty");
        }
        if (flat.length % channels != 0) {
            throw new DataException(origin + ": " + what + " holds " + flat.length + " values, not a whole number of time"
                    + " steps of " + channels + " channels");
        }
        for (int i = 0; i < flat.length; i++) {
            if (!Float.isFinite(flat[i])) {
                throw new DataException(origin + ": " + what + " holds " + flat[i] + " at position " + i
                        + "; fill missing values before training");
            }
        }
        return params.arrayLayout() == ArrayLayout.CHANNEL_MAJOR ? flat.clone() : transpose(flat, channels);
    }

    /** Time-major [t0c0, t0c1, ...] to channel-major. */
    private static float[] transpose(float[] timeMajor, int channels) {
        int length = timeMajor.length / channels;
        float[] out = new float[timeMajor.length];
        for (int t = 0; t < length; t++) {
            for (int c = 0; c < channels; c++) {
                out[c * length + t] = timeMajor[t * channels + c];
            }
        }
        return out;
    }

    /** Normalises each channel of the channel-major {@code values} in place. */
    private void normalise(float[] values) {
        int channels = params.channels();
        int length = values.length / channels;
        for (int c = 0; c < channels; c++) {
            int from = c * length;
            double shift;
            double scale;
            switch (params.normalise()) {
                case NONE -> {
                    continue;
                }
                case GIVEN -> {
                    shift = perChannel(params.mean(), c);
                    scale = perChannel(params.std(), c);
                }
                case MINMAX -> {
                    double min = Double.POSITIVE_INFINITY;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t < length; t++) {
                        min = Math.min(min, values[from + t]);
                        max = Math.max(max, values[from + t]);
                    }
                    shift = min;
                    scale = max > min ? max - min : 1;
                }
                default -> {
                    double sum = 0;
                    for (int t = 0; t < length; t++) {
                        sum += values[from + t];
                    }
                    double mean = sum / length;
                    double squares = 0;
                    for (int t = 0; t < length; t++) {
                        double d = values[from + t] - mean;
                        squares += d * d;
                    }
                    double std = Math.sqrt(squares / length);
                    shift = mean;
                    scale = std > 0 ? std : 1;
                }
            }
            for (int t = 0; t < length; t++) {
                values[from + t] = (float) ((values[from + t] - shift) / scale);
            }
        }
    }

    private static double perChannel(List<Double> values, int channel) {
        return values.get(values.size() == 1 ? 0 : channel);
    }

    /** The window's start before augmentation: 0, or the centred start rounded down to the stride. */
    private int start(int length) {
        if (params.position() == Position.START || length <= params.window()) {
            return 0;
        }
        int centred = (length - params.window()) / 2;
        return centred / params.stride() * params.stride();
    }

    private Path file(Object raw, String origin) {
        Path path;
        if (raw instanceof Path given) {
            path = given;
        } else if (raw instanceof String text && !text.isBlank()) {
            try {
                path = Path.of(text.trim());
            } catch (InvalidPathException e) {
                throw new DataException(origin + ": '" + text + "' is neither a JSON array nor a file path: "
                        + e.getMessage(), e);
            }
        } else {
            throw new DataException(origin + ": a series field must be a CSV file path, a JSON array, CSV bytes or a"
                    + " float[], found " + (raw == null ? "nothing" : raw instanceof String ? "an empty text"
                    : raw.getClass().getSimpleName()));
        }
        return baseDir == null ? path : baseDir.resolve(path);
    }

    /** values per {@code layout}, channel-major; with mask: true, mask float32 [B, window]. */
    @Override
    public NDList collate(List<SeriesExample> examples, NDManager manager) {
        int channels = params.channels();
        int window = params.window();
        int size = channels * window;
        float[] batch = new float[examples.size() * size];
        float[] masks = params.mask() ? new float[examples.size() * window] : null;
        for (int i = 0; i < examples.size(); i++) {
            SeriesExample example = examples.get(i);
            if (example.channels() != channels || example.windowLength() != window) {
                throw new IllegalStateException("example " + i + " has " + example.channels() + " channels and a window of "
                        + example.windowLength() + " but this modality collates " + channels + " x " + window
                        + "; it was made by another timeseries modality");
            }
            System.arraycopy(example.window(), 0, batch, i * size, size);
            if (masks != null) {
                java.util.Arrays.fill(masks, i * window, i * window + example.realLength(), 1f);
            }
        }
        int b = examples.size();
        Shape shape = switch (params.layout()) {
            case FLAT -> new Shape(b, size);
            case IMAGE -> new Shape(b, 1, channels, window);
            case CHANNELS_FIRST -> new Shape(b, channels, window);
        };
        NDList out = new NDList(manager.create(batch, shape));
        if (masks != null) {
            out.add(manager.create(masks, new Shape(b, window)));
        }
        return out;
    }
}
