package dev.modalign.plugins.image;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.ImageExample;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import java.awt.Rectangle;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.FileImageInputStream;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Images decoded with javax.imageio (PNG, JPEG, BMP, GIF), the centre square cropped and resized to
 * {@code size} x {@code size} (the same as scaling the shorter side to size and cropping the centre),
 * as channel-major floats in [0, 1]; collated normalised, (x - mean) / std per channel.
 *
 * <p>Only the centre square is decoded (an {@link ImageReadParam} source region), so a wide panorama
 * costs no more than its square. Resizing is antialiased bilinear ({@link Resampling}). Grey images
 * keep their stored grey levels (see {@link #toExample}); with {@code channels: 1}, colour images are
 * reduced to ITU-R BT.601 luma, Y = 0.299 R + 0.587 G + 0.114 B, as Pillow's {@code convert("L")} and
 * torchvision's {@code rgb_to_grayscale} do. Alpha is ignored.
 *
 * <p>Stateless after construction and every decode uses its own reader, so it is safe on loader
 * threads.
 */
public final class ImageModality implements Modality<ImageExample> {

    /**
     * @param size the side of the square images, in pixels
     * @param channels 3 (RGB) or 1 (grey)
     * @param mean subtracted per channel when collating
     * @param std divided by per channel when collating
     */
    public record Params(
            @Doc("Side of the square the image is resized and centre-cropped to, in pixels") @Default("64") int size,
            @Doc("3 for RGB (channel order R, G, B), 1 for grey (BT.601 luma)") @Default("3") int channels,
            @Doc("Per-channel mean subtracted when collating: one value for every channel, or one per channel"
                    + " (e.g. [0.5, 0.5, 0.5])") @Default("[0.5]") List<Double> mean,
            @Doc("Per-channel standard deviation divided by when collating: one value for every channel, or one"
                    + " per channel") @Default("[0.5]") List<Double> std) {

        public Params {
            if (size < 1 || size > MAX_SIZE) {
                throw new InvalidParamException("size", "must be between 1 and " + MAX_SIZE + ", found " + size
                        + "; 32 to 224 are usual");
            }
            if (channels != 1 && channels != 3) {
                throw new InvalidParamException("channels", "must be 1 (grey) or 3 (RGB), found " + channels);
            }
            checkPerChannel("mean", mean, channels);
            checkPerChannel("std", std, channels);
            if (std.stream().anyMatch(s -> !(s > 0))) {
                throw new InvalidParamException("std", "every value must be > 0, found " + std);
            }
        }

        private static void checkPerChannel(String key, List<Double> values, int channels) {
            if (values == null || (values.size() != 1 && values.size() != channels)) {
                throw new InvalidParamException(key, "give one value for every channel or one per channel ("
                        + channels + "), found " + values);
            }
            if (values.stream().anyMatch(v -> v == null || !Double.isFinite(v))) {
                throw new InvalidParamException(key, "every value must be a finite number, found " + values);
            }
        }
    }

    static final int MAX_SIZE = 4096;

    /**
     * Images with more pixels are refused before decoding: Pillow's decompression-bomb limit
     * ({@code Image.MAX_IMAGE_PIXELS}), which no photograph in a training set comes near.
     */
    static final long MAX_PIXELS = 89_478_485L;

    private final int size;
    private final int channels;
    private final Path baseDir;
    private final float[] mean;
    private final float[] std;

    public ImageModality(Params params, ComponentContext context) {
        this.size = params.size();
        this.channels = params.channels();
        this.baseDir = context.baseDir();
        this.mean = perChannel(params.mean(), params.channels());
        this.std = perChannel(params.std(), params.channels());
    }

    private static float[] perChannel(List<Double> values, int channels) {
        float[] out = new float[channels];
        for (int k = 0; k < channels; k++) {
            out[k] = values.get(values.size() == 1 ? 0 : k).floatValue();
        }
        return out;
    }

    @Override
    public Class<ImageExample> exampleType() {
        return ImageExample.class;
    }

    @Override
    public InputSpec spec() {
        return new ImageSpec(channels, size, size);
    }

    /**
     * Decodes {@code byte[]} (an encoded image), a {@link Path} or a {@link String} (a file path,
     * resolved against the experiment's directory when relative).
     */
    @Override
    public ImageExample decode(Object raw, String origin) {
        if (raw instanceof byte[] bytes) {
            if (bytes.length == 0) {
                throw new DataException(origin + ": the image bytes are empty");
            }
            // An in-memory stream: ImageIO.read(InputStream) would spool the bytes to a temporary file.
            return read(new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes)), origin,
                    "the bytes (" + bytes.length + ")");
        }
        Path file = file(raw, origin);
        if (!Files.exists(file)) {
            throw new DataException(origin + ": no image file at " + file.toAbsolutePath());
        }
        if (!Files.isRegularFile(file)) {
            throw new DataException(origin + ": " + file.toAbsolutePath() + " is not a file");
        }
        ImageInputStream input;
        try {
            input = new FileImageInputStream(file.toFile());
        } catch (IOException e) {
            throw new DataException(origin + ": cannot read " + file.toAbsolutePath() + ": " + e.getMessage(), e);
        }
        return read(input, origin, file.toAbsolutePath().toString());
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
            throw new DataException(origin + ": an image field must be encoded image bytes or a file path, found "
                    + (raw == null ? "nothing" : raw instanceof String ? "an empty text" : raw.getClass().getSimpleName()));
        }
        return baseDir == null ? path : baseDir.resolve(path);
    }

    /** Decodes the centre square of the image in {@code input} (which it closes) and resizes it. */
    private ImageExample read(ImageInputStream input, String origin, String what) {
        ImageReader reader = null;
        try (input) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(input);
            if (!readers.hasNext()) {
                throw new DataException(origin + ": " + what + " is not an image javax.imageio can read"
                        + " (PNG, JPEG, BMP or GIF)");
            }
            reader = readers.next();
            reader.setInput(input, true, true);
            int width = reader.getWidth(0);
            int height = reader.getHeight(0);
            if ((long) width * height > MAX_PIXELS) {
                throw new DataException(origin + ": " + what + " is " + width + "x" + height + " pixels, more than the "
                        + MAX_PIXELS + " this modality decodes; shrink it first");
            }
            int side = Math.min(width, height);
            ImageReadParam region = reader.getDefaultReadParam();
            region.setSourceRegion(new Rectangle((width - side) / 2, (height - side) / 2, side, side));
            return fit(toExample(reader.read(0, region)));
        } catch (DataException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // Readers throw IIOException for most damage, but runtime exceptions for some truncated streams.
            throw new DataException(origin + ": " + what + " is not a readable image: " + e, e);
        } finally {
            if (reader != null) {
                reader.dispose();
            }
        }
    }

    /**
     * Channel-major floats in [0, 1]. Grey images are read from their raster: {@link
     * BufferedImage#getRGB} would treat their levels as linear light and gamma-encode them (128
     * becomes 188), whereas PNG and JPEG store grey levels already encoded, as Pillow reads them.
     */
    private ImageExample toExample(BufferedImage image) {
        int width = image.getWidth();
        int height = image.getHeight();
        int plane = width * height;
        float[] pixels = new float[channels * plane];
        ColorModel colorModel = image.getColorModel();
        if (colorModel.getColorSpace().getType() == ColorSpace.TYPE_GRAY && !(colorModel instanceof IndexColorModel)) {
            Raster raster = image.getRaster();
            float maximum = (1 << colorModel.getComponentSize(0)) - 1;
            float[] row = new float[width];
            for (int y = 0; y < height; y++) {
                raster.getSamples(0, y, width, 1, 0, row);
                for (int c = 0; c < channels; c++) {
                    for (int x = 0; x < width; x++) {
                        pixels[c * plane + y * width + x] = row[x] / maximum;
                    }
                }
            }
            return new ImageExample(pixels, channels, height, width);
        }
        int[] argb = new int[width];
        for (int y = 0; y < height; y++) {
            image.getRGB(0, y, width, 1, argb, 0, width);
            for (int x = 0; x < width; x++) {
                int i = y * width + x;
                float r = ((argb[x] >> 16) & 0xFF) / 255f;
                float g = ((argb[x] >> 8) & 0xFF) / 255f;
                float b = (argb[x] & 0xFF) / 255f;
                if (channels == 3) {
                    pixels[i] = r;
                    pixels[plane + i] = g;
                    pixels[2 * plane + i] = b;
                } else {
                    pixels[i] = 0.299f * r + 0.587f * g + 0.114f * b;
                }
            }
        }
        return new ImageExample(pixels, channels, height, width);
    }

    /** Resizes the (square) decoded centre to size x size. */
    private ImageExample fit(ImageExample square) {
        if (square.width() == size && square.height() == size) {
            return square;
        }
        return Resampling.region(square, 0, 0, square.width(), square.height(), size, size);
    }

    /** One float32 array [B, channels, size, size], each channel normalised as (x - mean) / std. */
    @Override
    public NDList collate(List<ImageExample> examples, NDManager manager) {
        int plane = size * size;
        float[] batch = new float[examples.size() * channels * plane];
        for (int i = 0; i < examples.size(); i++) {
            ImageExample example = examples.get(i);
            if (example.channels() != channels || example.height() != size || example.width() != size) {
                throw new IllegalStateException("example " + i + " is " + example.channels() + "x" + example.height()
                        + "x" + example.width() + " but this modality collates " + channels + "x" + size + "x" + size
                        + "; an augmentation must keep the image's size");
            }
            float[] pixels = example.pixels();
            int offset = i * channels * plane;
            for (int c = 0; c < channels; c++) {
                float m = mean[c];
                float s = std[c];
                for (int p = 0; p < plane; p++) {
                    batch[offset + c * plane + p] = (pixels[c * plane + p] - m) / s;
                }
            }
        }
        return new NDList(manager.create(batch, new Shape(examples.size(), channels, size, size)));
    }
}
