package dev.modalign.plugins.image;

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
import dev.modalign.api.ImageExample;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import dev.modalign.testkit.AbstractModalityContractTest;
import dev.modalign.testkit.TestContext;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageModalityTest extends AbstractModalityContractTest<ImageModality.Params> {

    @TempDir
    static Path dir;

    /** A 2x2 image: red, green / blue, white. */
    static BufferedImage quadrants() {
        BufferedImage image = new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB);
        image.setRGB(0, 0, 0xFF0000);
        image.setRGB(1, 0, 0x00FF00);
        image.setRGB(0, 1, 0x0000FF);
        image.setRGB(1, 1, 0xFFFFFF);
        return image;
    }

    static BufferedImage filled(int width, int height, int type, int rgb) {
        BufferedImage image = new BufferedImage(width, height, type);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, rgb);
            }
        }
        return image;
    }

    static byte[] encode(BufferedImage image, String format) {
        try (ByteArrayOutputStream out = new ByteArrayOutputStream()) {
            assertTrue(ImageIO.write(image, format, out), "no ImageIO writer for " + format);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ImageModality modality(int size, int channels) {
        return new ImageModality(new ImageModality.Params(size, channels, List.of(0.5), List.of(0.5)),
                TestContext.builder().optBaseDir(dir).build());
    }

    private static float[] pixel(ImageExample image, int y, int x) {
        int plane = image.width() * image.height();
        float[] values = new float[image.channels()];
        for (int c = 0; c < values.length; c++) {
            values[c] = image.pixels()[c * plane + y * image.width() + x];
        }
        return values;
    }

    @Override
    protected ComponentFactory<ImageModality.Params, Modality<?>> factory() {
        return ImagePlugin.IMAGE;
    }

    @Override
    protected ImageModality.Params params() {
        return new ImageModality.Params(8, 3, List.of(0.5), List.of(0.5));
    }

    @Override
    protected List<Object> validRaws() {
        try {
            BufferedImage wide = new BufferedImage(20, 10, BufferedImage.TYPE_INT_RGB);
            wide.setRGB(3, 4, 0x123456);
            Path png = Files.write(dir.resolve("wide.png"), encode(wide, "png"));
            Path jpeg = Files.write(dir.resolve("q.jpg"), encode(filled(16, 24, BufferedImage.TYPE_INT_RGB, 0x3366CC), "jpg"));
            BufferedImage grey = filled(12, 12, BufferedImage.TYPE_BYTE_GRAY, 0x808080);
            return List.of(encode(quadrants(), "png"), png, jpeg.toString(), encode(grey, "png"),
                    encode(filled(9, 9, BufferedImage.TYPE_INT_ARGB, 0x80FF0000), "png"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    protected Object invalidRaw() {
        return new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2, 3};
    }

    @Test
    void resizingKeepsEachColourInItsQuadrantInRgbOrder() {
        ImageExample image = modality(4, 3).decode(encode(quadrants(), "png"), "test");
        assertEquals(new ImageSpec(3, 4, 4), new ImageSpec(image.channels(), image.height(), image.width()));
        // The corner pixels take only their own source pixel; channel 0 is R, 1 is G, 2 is B.
        assertArrayEquals(new float[] {1, 0, 0}, pixel(image, 0, 0), 1e-6f);
        assertArrayEquals(new float[] {0, 1, 0}, pixel(image, 0, 3), 1e-6f);
        assertArrayEquals(new float[] {0, 0, 1}, pixel(image, 3, 0), 1e-6f);
        assertArrayEquals(new float[] {1, 1, 1}, pixel(image, 3, 3), 1e-6f);
        // Every pixel of a quadrant is nearer its own colour than any other quadrant's.
        float[][] colours = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 1}};
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                int own = (y / 2) * 2 + x / 2;
                float[] value = pixel(image, y, x);
                for (int other = 0; other < 4; other++) {
                    if (other != own) {
                        assertTrue(distance(value, colours[own]) < distance(value, colours[other]),
                                "pixel (" + y + ", " + x + ") = " + Arrays.toString(value) + " is not nearest colour " + own);
                    }
                }
            }
        }
    }

    private static double distance(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += (a[i] - b[i]) * (a[i] - b[i]);
        }
        return sum;
    }

    @Test
    void aWideImageIsCentreCroppedToASquare() {
        BufferedImage wide = new BufferedImage(30, 10, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 10; y++) {
            for (int x = 0; x < 30; x++) {
                wide.setRGB(x, y, x < 10 || x >= 20 ? 0x000000 : 0xFFFFFF);
            }
        }
        for (float value : modality(10, 1).decode(encode(wide, "png"), "test").pixels()) {
            assertEquals(1f, value, 1e-6f, "only the white centre third remains");
        }
        // The same for a tall image, shrunk: the black bands above and below must not bleed in.
        BufferedImage tall = new BufferedImage(10, 30, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 30; y++) {
            for (int x = 0; x < 10; x++) {
                tall.setRGB(x, y, y < 10 || y >= 20 ? 0x000000 : 0xFFFFFF);
            }
        }
        for (float value : modality(5, 3).decode(encode(tall, "png"), "test").pixels()) {
            assertEquals(1f, value, 1e-6f, "only the white centre third remains");
        }
    }

    @Test
    void shrinkingAveragesFineDetailInsteadOfAliasingIt() {
        // One-pixel black and white columns: shrunk 4x, every output pixel covers as much black as white.
        BufferedImage stripes = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                stripes.setRGB(x, y, x % 2 == 0 ? 0x000000 : 0xFFFFFF);
            }
        }
        ImageExample shrunk = modality(16, 1).decode(encode(stripes, "png"), "test");
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 16; x++) {
                // At the borders the filter loses the taps outside the image, so the balance is a little off.
                float tolerance = x == 0 || x == 15 ? 0.05f : 1e-5f;
                assertEquals(0.5f, pixel(shrunk, y, x)[0], tolerance,
                        "(" + y + ", " + x + "): sampling without averaging would give stripes or flat black or white");
            }
        }
    }

    @Test
    void greyImagesKeepTheirStoredGreyLevels() {
        // ImageIO's getRGB would gamma-encode a grey PNG's level 128 to 188.
        BufferedImage level128 = new BufferedImage(6, 6, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 6; y++) {
            for (int x = 0; x < 6; x++) {
                level128.getRaster().setSample(x, y, 0, 128);
            }
        }
        byte[] grey = encode(level128, "png");
        ImageExample rgb = modality(6, 3).decode(grey, "test");
        assertArrayEquals(new float[] {128 / 255f, 128 / 255f, 128 / 255f}, pixel(rgb, 2, 3), 1e-6f);
        assertArrayEquals(new float[] {128 / 255f}, pixel(modality(3, 1).decode(grey, "test"), 1, 1), 1e-6f);
    }

    @Test
    void colourToGreyUsesBt601Luma() {
        ImageExample image = modality(2, 1).decode(encode(quadrants(), "png"), "test");
        assertArrayEquals(new float[] {0.299f, 0.587f, 0.114f, 1f}, image.pixels(), 1e-6f);
    }

    @Test
    void jpegAndTransparentPngDecodeToTheirColours() {
        ImageExample jpeg = modality(8, 3).decode(encode(filled(16, 16, BufferedImage.TYPE_INT_RGB, 0xCC3366), "jpg"), "t");
        assertArrayEquals(new float[] {0xCC / 255f, 0x33 / 255f, 0x66 / 255f}, pixel(jpeg, 4, 4), 0.03f);
        ImageExample translucent = modality(4, 3).decode(
                encode(filled(4, 4, BufferedImage.TYPE_INT_ARGB, 0x4000FF00), "png"), "t");
        assertArrayEquals(new float[] {0, 1, 0}, pixel(translucent, 1, 1), 1e-6f, "alpha is ignored");
    }

    @Test
    void collateNormalisesExactly() {
        ImageModality modality = new ImageModality(new ImageModality.Params(1, 3, List.of(0.1, 0.2, 0.3),
                List.of(0.5, 0.25, 2.0)), TestContext.builder().build());
        try (NDManager manager = NDManager.newBaseManager()) {
            NDList batch = modality.collate(List.of(new ImageExample(new float[] {0.6f, 0.7f, 0.9f}, 3, 1, 1),
                    new ImageExample(new float[] {0.1f, 0.2f, 0.3f}, 3, 1, 1)), manager);
            assertEquals(1, batch.size());
            assertEquals(new Shape(2, 3, 1, 1), batch.get(0).getShape());
            assertEquals(DataType.FLOAT32, batch.get(0).getDataType());
            // (0.6 - 0.1) / 0.5, (0.7 - 0.2) / 0.25, (0.9 - 0.3) / 2; then the means themselves give 0.
            assertArrayEquals(new float[] {1.0f, 2.0f, 0.3f, 0, 0, 0}, batch.get(0).toFloatArray(), 1e-6f);
        }
        // The defaults, 0.5 and 0.5 for every channel, map [0, 1] to [-1, 1]; these values are exact in binary.
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] values = modality(1, 3).collate(List.of(new ImageExample(new float[] {0f, 0.25f, 1f}, 3, 1, 1)),
                    manager).get(0).toFloatArray();
            assertArrayEquals(new float[] {-1f, -0.5f, 1f}, values);
        }
    }

    @Test
    void collateRefusesAnExampleOfAnotherSize() {
        try (NDManager manager = NDManager.newBaseManager()) {
            IllegalStateException error = assertThrows(IllegalStateException.class,
                    () -> modality(2, 3).collate(List.of(new ImageExample(new float[3], 3, 1, 1)), manager));
            assertTrue(error.getMessage().contains("3x1x1"), error.getMessage());
        }
    }

    @Test
    void relativePathsResolveAgainstTheExperimentDirectory() throws IOException {
        Files.write(dir.resolve("q.png"), encode(quadrants(), "png"));
        assertEquals(4, modality(4, 3).decode("q.png", "m.csv:2 image").width());
        assertEquals(4, modality(4, 3).decode(Path.of("q.png"), "m.csv:2 image").width());
    }

    @Test
    void everyUnreadableValueIsADataErrorStartingWithTheOrigin() throws IOException {
        byte[] png = encode(filled(32, 32, BufferedImage.TYPE_INT_RGB, 0x123456), "png");
        Files.write(dir.resolve("notes.png"), "not an image".getBytes(StandardCharsets.UTF_8));
        Files.createDirectories(dir.resolve("folder.png"));
        List<Object> bad = List.of(Arrays.copyOf(png, png.length / 2), "hello".getBytes(StandardCharsets.UTF_8),
                new byte[0], "gone.png", "notes.png", "folder.png", "  ", 3.5);
        List<String> why = List.of("not a readable image", "not an image javax.imageio can read", "empty",
                "no image file at " + dir.resolve("gone.png").toAbsolutePath(), "not an image", "is not a file",
                "empty text", "found Double");
        for (int i = 0; i < bad.size(); i++) {
            Object raw = bad.get(i);
            DataException error = assertThrows(DataException.class, () -> modality(8, 3).decode(raw, "m.csv:7 image"),
                    "value " + i);
            assertTrue(error.getMessage().startsWith("m.csv:7 image: "), error.getMessage());
            assertTrue(error.getMessage().contains(why.get(i)), error.getMessage());
        }
    }

    @Test
    void invalidParametersNameTheirKey() {
        assertEquals("size", assertThrows(InvalidParamException.class,
                () -> new ImageModality.Params(0, 3, List.of(0.5), List.of(0.5))).key());
        assertEquals("channels", assertThrows(InvalidParamException.class,
                () -> new ImageModality.Params(8, 2, List.of(0.5), List.of(0.5))).key());
        assertEquals("mean", assertThrows(InvalidParamException.class,
                () -> new ImageModality.Params(8, 3, List.of(0.5, 0.5), List.of(0.5))).key());
        assertEquals("std", assertThrows(InvalidParamException.class,
                () -> new ImageModality.Params(8, 1, List.of(0.5), List.of(0.0))).key());
    }
}
