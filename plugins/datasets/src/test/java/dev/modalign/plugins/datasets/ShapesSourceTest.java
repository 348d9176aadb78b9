package dev.modalign.plugins.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.PluginContract;
import dev.modalign.testkit.TestContext;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class ShapesSourceTest extends PluginContract {

    /** A pixel within this RGB distance of a palette colour is counted as that colour. */
    private static final double COLOUR_TOLERANCE = 45;

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return DatasetsPlugin.SHAPES;
    }

    private static DatasetSource shapes(int size, long seed, boolean templates, boolean distractors) {
        return DatasetsPlugin.SHAPES.create(
                new ShapesSource.Params(size, seed, 32, templates, distractors), TestContext.builder().build());
    }

    /** The pixels of a decoded image in one palette colour: how many, and their centroid. */
    private record ColourBlob(int pixels, double x, double y) {}

    private static BufferedImage decode(DataRecord record) throws IOException {
        BufferedImage image = ImageIO.read(new ByteArrayInputStream((byte[]) record.field("image")));
        assertEquals(32, image.getWidth(), record.origin());
        assertEquals(32, image.getHeight(), record.origin());
        return image;
    }

    private static ColourBlob blob(BufferedImage image, ShapeScene.Colour colour) {
        int count = 0;
        double sumX = 0;
        double sumY = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if (near(image.getRGB(x, y), colour)) {
                    count++;
                    sumX += x + 0.5;
                    sumY += y + 0.5;
                }
            }
        }
        return new ColourBlob(count, sumX / Math.max(count, 1), sumY / Math.max(count, 1));
    }

    private static boolean near(int rgb, ShapeScene.Colour colour) {
        double red = ((rgb >> 16) & 0xff) - colour.red;
        double green = ((rgb >> 8) & 0xff) - colour.green;
        double blue = (rgb & 0xff) - colour.blue;
        return Math.sqrt(red * red + green * green + blue * blue) < COLOUR_TOLERANCE;
    }

    private static ShapeScene sceneOf(DataRecord record) {
        return new ShapeScene(
                ShapeScene.Colour.valueOf(((String) record.field("colour")).toUpperCase()),
                ShapeScene.Kind.values()[(Integer) record.field("label")],
                ShapeScene.Position.valueOf(((String) record.field("position")).replace(' ', '_').toUpperCase()),
                ShapeScene.Size.valueOf(((String) record.field("size")).toUpperCase()));
    }

    @Test
    void captionsAreTrueToTheImages() throws IOException {
        for (boolean distractors : new boolean[] {false, true}) {
            DatasetSource source = shapes(200, 3, true, distractors);
            Map<ShapeScene.Kind, Integer> smallMost = new EnumMap<>(ShapeScene.Kind.class);
            Map<ShapeScene.Kind, Integer> largeLeast = new EnumMap<>(ShapeScene.Kind.class);
            for (long i = 0; i < source.size(); i++) {
                DataRecord record = source.get(i);
                ShapeScene scene = sceneOf(record);
                String caption = (String) record.field("caption");
                assertTrue(caption.contains(scene.colour().word()) && caption.contains(scene.kind().word())
                        && caption.contains(scene.size().word()) && caption.contains(scene.position().words()),
                        record.origin() + ": caption '" + caption + "' does not name " + scene);
                assertEquals(scene.group(), record.group());

                BufferedImage image = decode(record);
                ColourBlob shape = blob(image, scene.colour());
                String where = record.origin() + " (" + caption + ", distractors " + distractors + ")";
                assertTrue(shape.pixels() >= 4, where + ": only " + shape.pixels() + " pixels of the named colour");
                // The centroid lies in the named region: within the jitter of its centre, plus a pixel of slack.
                double slack = ShapeScene.Position.JITTER + 1.0 / 32;
                assertEquals(scene.position().x, shape.x() / 32, slack, where + ": centroid x");
                assertEquals(scene.position().y, shape.y() / 32, slack, where + ": centroid y");
                for (ShapeScene.Colour other : ShapeScene.Colour.values()) {
                    int pixels = blob(image, other).pixels();
                    assertTrue(other == scene.colour() || pixels <= 1, where + ": " + pixels + " pixels look " + other.word());
                }
                // A ring is hollow; every other shape covers its own centre.
                int centre = image.getRGB((int) shape.x(), (int) shape.y());
                if (scene.size() == ShapeScene.Size.LARGE) {
                    assertEquals(scene.kind() != ShapeScene.Kind.RING, near(centre, scene.colour()),
                            where + ": the pixel at the shape's centre");
                }
                if (scene.size() == ShapeScene.Size.SMALL) {
                    smallMost.merge(scene.kind(), shape.pixels(), Math::max);
                } else {
                    largeLeast.merge(scene.kind(), shape.pixels(), Math::min);
                }
            }
            // Size is true to the caption: of each shape, the least large one outnumbers the most small one.
            for (ShapeScene.Kind kind : ShapeScene.Kind.values()) {
                assertTrue(largeLeast.get(kind) > smallMost.get(kind), kind + ": the least large one has "
                        + largeLeast.get(kind) + " pixels, the most small one " + smallMost.get(kind));
            }
        }
    }

    @Test
    void everyImageDiffersEvenWithTheSameContent() {
        DatasetSource source = shapes(2000, 0, true, false);
        assertFalse(Arrays.equals((byte[]) source.get(0).field("image"), (byte[]) source.get(1).field("image")));
        Map<String, Long> firstWithGroup = new HashMap<>();
        int sameContentPairs = 0;
        for (long i = 0; i < source.size() && sameContentPairs < 5; i++) {
            DataRecord record = source.get(i);
            Long earlier = firstWithGroup.putIfAbsent(record.group(), i);
            if (earlier != null) {
                assertFalse(Arrays.equals((byte[]) source.get(earlier).field("image"),
                        (byte[]) record.field("image")), record.group() + " at " + earlier + " and " + i);
                sameContentPairs++;
            }
        }
        assertEquals(5, sameContentPairs, "2000 records hold fewer than 5 repeats of 400 contents");
    }

    @Test
    void sameSeedAndIndexGiveTheSameBytesOnTwoThreads() throws Exception {
        DatasetSource first = shapes(64, 11, true, true);
        DatasetSource second = shapes(64, 11, true, true);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            List<Future<List<DataRecord>>> runs = new ArrayList<>();
            for (DatasetSource source : List.of(first, second)) {
                runs.add(threads.submit(() -> {
                    List<DataRecord> records = new ArrayList<>();
                    // Opposite orders on the two threads: a record must not depend on what was read before it.
                    for (long i = 0; i < source.size(); i++) {
                        records.add(source.get(source == first ? i : source.size() - 1 - i));
                    }
                    return records;
                }));
            }
            List<DataRecord> forward = runs.get(0).get();
            List<DataRecord> backward = runs.get(1).get();
            for (int i = 0; i < forward.size(); i++) {
                DataRecord a = forward.get(i);
                DataRecord b = backward.get(forward.size() - 1 - i);
                assertEquals(a.id(), b.id());
                assertArrayEquals((byte[]) a.field("image"), (byte[]) b.field("image"), a.origin());
                assertEquals(a.field("caption"), b.field("caption"), a.origin());
            }
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void anotherSeedIsAnotherDataSet() {
        DatasetSource train = shapes(50, 0, true, false);
        DatasetSource eval = shapes(50, 1, true, false);
        int sameImage = 0;
        for (long i = 0; i < 50; i++) {
            if (Arrays.equals((byte[]) train.get(i).field("image"), (byte[]) eval.get(i).field("image"))) {
                sameImage++;
            }
        }
        assertEquals(0, sameImage);
        assertNotEquals(train.fingerprint(), eval.fingerprint());
        assertEquals("shapes-1-7", eval.get(7).id());
        assertEquals("shapes(seed=1)#7", eval.get(7).origin());
    }

    @Test
    void allFourHundredCombinationsOccurInTwentyThousandRecords() {
        DatasetSource source = shapes(20000, 5, true, false);
        Set<String> groups = new HashSet<>();
        for (long i = 0; i < source.size(); i++) {
            groups.add(source.get(i).group());
        }
        assertEquals(ShapeScene.COMBINATIONS, 400);
        assertEquals(400, groups.size());
    }

    @Test
    void templatesVaryTheWordingAndOffFixesIt() {
        DatasetSource varied = shapes(200, 2, true, false);
        DatasetSource fixed = shapes(200, 2, false, false);
        DatasetSource withDistractors = shapes(200, 2, true, true);
        Set<String> wordings = new HashSet<>();
        for (long i = 0; i < 200; i++) {
            DataRecord record = fixed.get(i);
            ShapeScene scene = sceneOf(record);
            assertEquals("a " + scene.size().word() + " " + scene.colour().word() + " " + scene.kind().word() + " "
                    + scene.position().where(), record.field("caption"));
            // The flags change the wording and the picture, never the content.
            assertEquals(record.group(), varied.get(i).group());
            assertEquals(record.group(), withDistractors.get(i).group());
            assertEquals(varied.get(i).field("caption"), withDistractors.get(i).field("caption"));
            // Same draws, same noise: the distractor alone tells the two images apart.
            assertFalse(Arrays.equals((byte[]) varied.get(i).field("image"), (byte[]) withDistractors.get(i).field("image")));
            String caption = (String) varied.get(i).field("caption");
            wordings.add(caption.replace(scene.position().where(), "W").replace(scene.position().words(), "P")
                    .replaceAll("\\b" + scene.size().word() + "\\b", "S")
                    .replaceAll("\\b" + scene.colour().word() + "\\b", "C")
                    .replaceAll("\\b" + scene.kind().word() + "\\b", "K")
                    .replace("an C", "a C"));
        }
        assertEquals(ShapeScene.TEMPLATES.size(), wordings.size(), "wordings seen: " + wordings);
        assertEquals("a large red circle in the top left",
                new ShapeScene(ShapeScene.Colour.RED, ShapeScene.Kind.CIRCLE, ShapeScene.Position.TOP_LEFT,
                        ShapeScene.Size.LARGE).caption(0));
        assertEquals("an orange cross, small, in the bottom right",
                new ShapeScene(ShapeScene.Colour.ORANGE, ShapeScene.Kind.CROSS, ShapeScene.Position.BOTTOM_RIGHT,
                        ShapeScene.Size.SMALL).caption(4));
        assertEquals("a picture of a small yellow ring at the centre",
                new ShapeScene(ShapeScene.Colour.YELLOW, ShapeScene.Kind.RING, ShapeScene.Position.CENTRE,
                        ShapeScene.Size.SMALL).caption(2));
    }

    @Test
    void fingerprintNamesEveryParameter() {
        assertEquals("shapes(seed=4, size=100, image_size=32, templates=false, distractors=true)",
                shapes(100, 4, false, true).fingerprint());
    }

    @Test
    void refusesBadParametersByKey() {
        assertEquals("size", assertThrows(InvalidParamException.class,
                () -> new ShapesSource.Params(0, 0, 32, true, false)).key());
        assertEquals("image_size", assertThrows(InvalidParamException.class,
                () -> new ShapesSource.Params(10, 0, 8, true, false)).key());
        assertThrows(IndexOutOfBoundsException.class, () -> shapes(10, 0, true, false).get(10));
    }
}
