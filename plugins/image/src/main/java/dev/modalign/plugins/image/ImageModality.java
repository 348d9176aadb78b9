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
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * Images decoded with javax.imageio, resized so the shorter side is {@code size} and centre-cropped
 * to a square, as channel-major floats in [0, 1]; collated normalised, (x - mean) / std per channel.
 */
public final class ImageModality implements Modality<ImageExample> {

    /** Parameters. */
    public record Params(
            @Doc("Side of the square the image is resized and cropped to, in pixels.") @Default("64") int size,
            @Doc("3 for RGB, 1 for grey.") @Default("3") int channels,
            @Doc("Per-channel mean subtracted when collating (one value, or one per channel).") @Default("[0.5]")
                    List<Double> mean,
            @Doc("Per-channel standard deviation divided by when collating.") @Default("[0.5]") List<Double> std) {

        public Params {
            if (size < 1) {
                throw new InvalidParamException("size", "must be at least 1, found " + size);
            }
            if (channels != 1 && channels != 3) {
                throw new InvalidParamException("channels", "must be 1 (grey) or 3 (RGB), found " + channels);
            }
            if (mean.size() != 1 && mean.size() != channels) {
                throw new InvalidParamException("mean", "give one value or " + channels + ", found " + mean.size());
            }
            if (std.size() != 1 && std.size() != channels) {
                throw new InvalidParamException("std", "give one value or " + channels + ", found " + std.size());
            }
            if (std.stream().anyMatch(s -> !(s > 0))) {
                throw new InvalidParamException("std", "every value must be > 0, found " + std);
            }
        }
    }

    private final Params params;
    private final Path baseDir;
    private final float[] mean;
    private final float[] std;

    public ImageModality(Params params, ComponentContext context) {
        this.params = params;
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
        return new ImageSpec(params.channels(), params.size(), params.size());
    }

    @Override
    public ImageExample decode(Object raw, String origin) {
        BufferedImage image;
        try {
            if (raw instanceof byte[] bytes) {
                image = ImageIO.read(new ByteArrayInputStream(bytes));
            } else if (raw instanceof Path || raw instanceof String) {
                Path path = raw instanceof Path p ? p : baseDir.resolve((String) raw);
                if (!Files.isRegularFile(path)) {
                    throw new DataException(origin + ": no such image file " + path);
                }
                image = ImageIO.read(path.toFile());
            } else {
                throw new DataException(origin + ": expected image bytes or a file path, found "
                        + (raw == null ? "nothing" : raw.getClass().getSimpleName()));
            }
        } catch (IOException e) {
            throw new DataException(origin + ": cannot decode the image: " + e.getMessage(), e);
        }
        if (image == null) {
            throw new DataException(origin + ": not an image javax.imageio can read (PNG, JPEG, BMP or GIF)");
        }
        return fit(toExample(image));
    }

    /** RGB (or grey) floats in [0, 1], channel-major. */
    private ImageExample toExample(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
        int c = params.channels();
        float[] pixels = new float[c * w * h];
        for (int i = 0; i < argb.length; i++) {
            float r = ((argb[i] >> 16) & 0xFF) / 255f;
            float g = ((argb[i] >> 8) & 0xFF) / 255f;
            float b = (argb[i] & 0xFF) / 255f;
            if (c == 3) {
                pixels[i] = r;
                pixels[w * h + i] = g;
                pixels[2 * w * h + i] = b;
            } else {
                // ITU-R BT.601 luma.
                pixels[i] = 0.299f * r + 0.587f * g + 0.114f * b;
            }
        }
        return new ImageExample(pixels, c, h, w);
    }

    /** Scales the shorter side to size and crops the centre square. */
    private ImageExample fit(ImageExample image) {
        int size = params.size();
        if (image.width() == size && image.height() == size) {
            return image;
        }
        double side = Math.min(image.width(), image.height());
        return Resampling.region(image, (image.width() - side) / 2, (image.height() - side) / 2, side, side, size, size);
    }

    @Override
    public NDList collate(List<ImageExample> examples, NDManager manager) {
        int c = params.channels();
        int size = params.size();
        int plane = size * size;
        float[] batch = new float[examples.size() * c * plane];
        for (int i = 0; i < examples.size(); i++) {
            float[] pixels = examples.get(i).pixels();
            if (pixels.length != c * plane) {
                throw new IllegalStateException("an augmentation changed the image to " + examples.get(i).channels() + "x"
                        + examples.get(i).height() + "x" + examples.get(i).width() + "; expected " + c + "x" + size + "x" + size);
            }
            int offset = i * c * plane;
            for (int k = 0; k < c; k++) {
                float m = mean[k];
                float s = std[k];
                for (int p = 0; p < plane; p++) {
                    batch[offset + k * plane + p] = (pixels[k * plane + p] - m) / s;
                }
            }
        }
        return new NDList(manager.create(batch, new Shape(examples.size(), c, size, size)));
    }
}
