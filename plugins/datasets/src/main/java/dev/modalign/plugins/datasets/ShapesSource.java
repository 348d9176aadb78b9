package dev.modalign.plugins.datasets;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * A generated image-caption data set, the quickstart's data: each record is one antialiased shape
 * of one colour on a dark, noisy background, with a caption that names its size, colour, shape and
 * position. Nothing is downloaded or stored: record i is drawn on demand from a generator seeded
 * by (seed, i) alone, so any record can be read in any order, on any thread, and the same seed and
 * index always give the same bytes.
 *
 * <p>Fields: {@code image} (PNG bytes), {@code caption} (String), {@code label} (Integer, the
 * shape's index: circle, square, triangle, cross, ring), and the attribute words {@code colour},
 * {@code shape}, {@code position} and {@code size} (for zero-shot prompts and per-attribute
 * analysis). The group is the attribute tuple, so two records showing the same content are the
 * same item in retrieval.
 */
public final class ShapesSource implements DatasetSource {

    /**
     * @param size the number of records
     * @param seed the data's own seed, independent of the run's: a train and a held-out eval set are
     *     two sources with different seeds
     * @param imageSize the side of the square images in pixels
     * @param templates several caption wordings, or one fixed wording
     * @param distractors a faint second shape elsewhere in the image, not named by the caption
     */
    public record Params(
            @Doc("Number of records") @Default("4000") int size,
            @Doc("Seed of the data, independent of the run's seed; use different seeds for train and eval")
            @Default("0") long seed,
            @Doc("Side of the square images in pixels") @Default("32") int imageSize,
            @Doc("Vary the caption's wording (true) or use one fixed wording (false)") @Default("true") boolean templates,
            @Doc("Add a faint second shape, not named by the caption, elsewhere in the image") @Default("false")
            boolean distractors) {

        public Params {
            if (size < 1) {
                throw new InvalidParamException("size", "must be at least 1, found " + size);
            }
            if (imageSize < MIN_IMAGE_SIZE || imageSize > MAX_IMAGE_SIZE) {
                throw new InvalidParamException("image_size", "must be between " + MIN_IMAGE_SIZE + " and "
                        + MAX_IMAGE_SIZE + ", found " + imageSize
                        + (imageSize < MIN_IMAGE_SIZE ? "; below that a small shape is too few pixels to tell apart" : ""));
            }
        }
    }

    static final int MIN_IMAGE_SIZE = 16;
    static final int MAX_IMAGE_SIZE = 512;

    /** The background's grey level is drawn from [12, 56]: dark, and different in every image. */
    private static final int BACKGROUND_MIN = 12;
    private static final int BACKGROUND_RANGE = 45;
    /** Each channel of the shape's colour varies by up to this many levels. */
    private static final int COLOUR_JITTER = 6;
    /** Opacity of the distractor shape: faint next to the captioned one. */
    private static final float DISTRACTOR_ALPHA = 0.3f;

    private final Params params;

    public ShapesSource(Params params, ComponentContext context) {
        this.params = params;
    }

    @Override
    public long size() {
        return params.size();
    }

    @Override
    public DataRecord get(long index) {
        if (index < 0 || index >= params.size()) {
            throw new IndexOutOfBoundsException("shapes has " + params.size() + " records, asked for " + index);
        }
        Random rng = new Random(mix(params.seed(), index));
        // The draw order is fixed (attributes, wording, geometry, distractor, noise) and every draw is
        // made whatever the flags say, so turning templates or distractors on or off keeps each
        // record's content.
        ShapeScene scene = ShapeScene.random(rng);
        int drawnTemplate = rng.nextInt(ShapeScene.TEMPLATES.size());
        int template = params.templates() ? drawnTemplate : 0;
        byte[] png = encodePng(render(scene, rng));
        String origin = "shapes(seed=" + params.seed() + ")#" + index;
        return new DataRecord(
                "shapes-" + params.seed() + "-" + index,
                scene.group(),
                origin,
                Map.of(
                        "image", png,
                        "caption", scene.caption(template),
                        "label", scene.kind().ordinal(),
                        "colour", scene.colour().word(),
                        "shape", scene.kind().word(),
                        "position", scene.position().words(),
                        "size", scene.size().word()));
    }

    @Override
    public String fingerprint() {
        return "shapes(seed=" + params.seed() + ", size=" + params.size() + ", image_size=" + params.imageSize()
                + ", templates=" + params.templates() + ", distractors=" + params.distractors() + ")";
    }

    private BufferedImage render(ShapeScene scene, Random rng) {
        int side = params.imageSize();
        int background = BACKGROUND_MIN + rng.nextInt(BACKGROUND_RANGE);
        double x = (scene.position().x + jitter(rng, ShapeScene.Position.JITTER)) * side;
        double y = (scene.position().y + jitter(rng, ShapeScene.Position.JITTER)) * side;
        double radius = scene.size().radius * (1 + jitter(rng, ShapeScene.Size.JITTER)) * side;
        Color colour = new Color(
                jitterLevel(scene.colour().red, rng),
                jitterLevel(scene.colour().green, rng),
                jitterLevel(scene.colour().blue, rng));

        // The distractor: small, of any shape and colour, in another region than the captioned shape.
        ShapeScene distractor = ShapeScene.random(rng);
        int otherRegion = rng.nextInt(ShapeScene.Position.values().length - 1);
        ShapeScene.Position distractorPosition =
                ShapeScene.Position.values()[otherRegion >= scene.position().ordinal() ? otherRegion + 1 : otherRegion];
        double distractorX = (distractorPosition.x + jitter(rng, ShapeScene.Position.JITTER)) * side;
        double distractorY = (distractorPosition.y + jitter(rng, ShapeScene.Position.JITTER)) * side;
        double distractorRadius = ShapeScene.Size.SMALL.radius * side;

        BufferedImage image = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
        Graphics2D graphics = image.createGraphics();
        try {
            graphics.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            graphics.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            graphics.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
            graphics.setColor(new Color(background, background, background));
            graphics.fillRect(0, 0, side, side);
            if (params.distractors()) {
                ShapeScene.Colour faint = distractor.colour();
                graphics.setColor(new Color(faint.red, faint.green, faint.blue, Math.round(DISTRACTOR_ALPHA * 255)));
                graphics.fill(distractor.kind().outline(distractorX, distractorY, distractorRadius));
            }
            graphics.setColor(colour);
            graphics.fill(scene.kind().outline(x, y, radius));
        } finally {
            graphics.dispose();
        }
        addNoise(image, rng);
        return image;
    }

    /**
     * Near-Gaussian noise on every channel of every pixel, so that no two images are identical. Each
     * channel adds the sum of four uniform draws from 0..7, less 14 (an Irwin-Hall sum: within
     * [-14, 14], standard deviation 4.6 levels), all twelve bits of a pixel's three channels taken
     * from one {@code nextLong}: {@code nextGaussian} per channel made noise most of a record's cost.
     */
    private static void addNoise(BufferedImage image, Random rng) {
        int width = image.getWidth();
        int height = image.getHeight();
        int[] rgb = image.getRGB(0, 0, width, height, null, 0, width);
        for (int p = 0; p < rgb.length; p++) {
            long bits = rng.nextLong();
            int red = clampLevel(((rgb[p] >> 16) & 0xff) + noise(bits));
            int green = clampLevel(((rgb[p] >> 8) & 0xff) + noise(bits >>> 12));
            int blue = clampLevel((rgb[p] & 0xff) + noise(bits >>> 24));
            rgb[p] = (red << 16) | (green << 8) | blue;
        }
        image.setRGB(0, 0, width, height, rgb, 0, width);
    }

    /** The noise of one channel from the low twelve bits of {@code bits}. */
    private static int noise(long bits) {
        return (int) ((bits & 7) + ((bits >>> 3) & 7) + ((bits >>> 6) & 7) + ((bits >>> 9) & 7)) - 14;
    }

    private static int jitterLevel(int level, Random rng) {
        return clampLevel(level + rng.nextInt(2 * COLOUR_JITTER + 1) - COLOUR_JITTER);
    }

    private static int clampLevel(int level) {
        return Math.max(0, Math.min(255, level));
    }

    /** Uniform in [-amount, amount). */
    private static double jitter(Random rng, double amount) {
        return (2 * rng.nextDouble() - 1) * amount;
    }

    /**
     * PNG bytes, written through an in-memory stream: {@code ImageIO.write} to a byte stream would
     * spill to a temporary file when ImageIO's disk cache is on, and turning that off is a JVM-wide
     * setting that a plugin should not touch.
     */
    private static byte[] encodePng(BufferedImage image) {
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("png");
        if (!writers.hasNext()) {
            throw new DataException("shapes: this JVM has no PNG image writer");
        }
        ImageWriter writer = writers.next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.write(image);
        } catch (IOException e) {
            throw new DataException("shapes: cannot encode a PNG in memory: " + e.getMessage(), e);
        } finally {
            writer.dispose();
        }
        return bytes.toByteArray();
    }

    /**
     * The generator seed of record {@code index}: SplitMix64's finaliser applied twice (Steele,
     * Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014). Seeding
     * {@link Random} with seed + index directly would not do: its seed scrambling is a fixed XOR,
     * so neighbouring seeds give nearly equal first draws.
     */
    static long mix(long seed, long index) {
        return splitMix64(splitMix64(seed) + index);
    }

    private static long splitMix64(long value) {
        long z = value + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
