package dev.modalign.plugins.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.ImageExample;
import dev.modalign.api.Modality;
import dev.modalign.testkit.AbstractModalityContractTest;
import dev.modalign.testkit.TestContext;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
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

    static byte[] encode(BufferedImage image, String format) {
        try (ByteArrayOutputStream out = new ByteArrayOutputStream()) {
            ImageIO.write(image, format, out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ImageModality modality(int size, int channels) {
        return new ImageModality(new ImageModality.Params(size, channels, List.of(0.5), List.of(0.5)),
                TestContext.builder().optBaseDir(dir).build());
    }

    @Override
    protected ComponentFactory<ImageModality.Params, Modality<?>> factory() {
        return new ImagePlugin().modalities().stream().map(f -> {
            @SuppressWarnings("unchecked")
            ComponentFactory<ImageModality.Params, Modality<?>> typed = (ComponentFactory<ImageModality.Params, Modality<?>>) f;
            return typed;
        }).findFirst().orElseThrow();
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
            Path jpeg = Files.write(dir.resolve("q.jpg"), encode(quadrants(), "jpg"));
            return List.of(encode(quadrants(), "png"), png, jpeg);
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
        assertEquals(4, image.width());
        float[] p = image.pixels();
        int plane = 16;
        // top-left pixel (0,0) is red, top-right (0,3) green, bottom-left (3,0) blue, bottom-right white
        assertArrayEquals(new float[] {1, 0, 0}, new float[] {p[0], p[plane], p[2 * plane]}, 1e-6f);
        assertArrayEquals(new float[] {0, 1, 0}, new float[] {p[3], p[plane + 3], p[2 * plane + 3]}, 1e-6f);
        assertArrayEquals(new float[] {0, 0, 1}, new float[] {p[12], p[plane + 12], p[2 * plane + 12]}, 1e-6f);
        assertArrayEquals(new float[] {1, 1, 1}, new float[] {p[15], p[plane + 15], p[2 * plane + 15]}, 1e-6f);
    }

    @Test
    void aWideImageIsCentreCroppedToASquare() {
        BufferedImage wide = new BufferedImage(30, 10, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 10; y++) {
            for (int x = 0; x < 30; x++) {
                wide.setRGB(x, y, x < 10 || x >= 20 ? 0x000000 : 0xFFFFFF);
            }
        }
        ImageExample image = modality(10, 1).decode(encode(wide, "png"), "test");
        for (float value : image.pixels()) {
            assertEquals(1f, value, 1e-6f, "only the white centre third remains");
        }
    }

    @Test
    void collateNormalisesPerChannel() {
        ImageModality modality = new ImageModality(new ImageModality.Params(1, 3, List.of(0.1, 0.2, 0.3),
                List.of(0.5, 0.25, 2.0)), TestContext.builder().build());
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] values = modality.collate(List.of(new ImageExample(new float[] {0.6f, 0.7f, 0.9f}, 3, 1, 1)), manager)
                    .get(0).toFloatArray();
            assertArrayEquals(new float[] {1.0f, 2.0f, 0.3f}, values, 1e-6f);
        }
    }

    @Test
    void relativePathsResolveAgainstTheExperimentDirectoryAndMissingFilesAreNamed() throws IOException {
        Files.write(dir.resolve("q.png"), encode(quadrants(), "png"));
        assertEquals(4, modality(4, 3).decode("q.png", "m.csv:2 image").width());
        DataException missing = assertThrows(DataException.class, () -> modality(4, 3).decode("gone.png", "m.csv:3 image"));
        assertTrue(missing.getMessage().startsWith("m.csv:3 image: no such image file "), missing.getMessage());
    }

    @Test
    void greyUsesLuma() {
        ImageExample image = modality(2, 1).decode(encode(quadrants(), "png"), "test");
        assertArrayEquals(new float[] {0.299f, 0.587f, 0.114f, 1f}, image.pixels(), 1e-3f);
    }
}
