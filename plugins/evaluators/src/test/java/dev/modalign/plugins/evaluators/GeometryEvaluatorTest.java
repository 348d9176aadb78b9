package dev.modalign.plugins.evaluators;

import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.EvalResult;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/** Alignment, uniformity, the modality gap and its separability, against numpy and by hand. */
class GeometryEvaluatorTest extends ManagerPerTest {

    private static final GeometryEvaluator.Params DEFAULTS =
            new GeometryEvaluator.Params(0.5, List.of(1e-4, 1e-3, 1e-2, 1e-1, 1.0), true, 1000);
    private static final GeometryEvaluator.Params NO_PLOT =
            new GeometryEvaluator.Params(0.5, List.of(1e-4, 1e-3, 1e-2, 1e-1, 1.0), false, 1000);

    /** One case of geometry_reference.json, written by src/test/python/make_reference.py. */
    record Case(String name, double[][] x, double[][] y, double alignment, double uniformityX, double uniformityY,
            double modalityGap) {}

    @Test
    void matchesTheNumpyReference() {
        List<Case> reference = cases("/geometry_reference.json", Case.class);
        assertEquals(3, reference.size());
        for (Case c : reference) {
            Map<String, Double> metrics = evaluate(NO_PLOT, new FixedEvalContext(manager).tower("x", floats(c.x()))
                    .tower("y", floats(c.y())).towers("x", "y")).metrics();
            // float32 embeddings and dot products: agreement to float precision.
            assertEquals(c.alignment(), metrics.get("alignment"), 1e-6, c.name());
            assertEquals(c.uniformityX(), metrics.get("uniformity/x"), 1e-6, c.name());
            assertEquals(c.uniformityY(), metrics.get("uniformity/y"), 1e-6, c.name());
            assertEquals(c.modalityGap(), metrics.get("modality_gap"), 1e-6, c.name());
        }
    }

    /**
     * Both towers the same: nothing to align, no gap, and the separability regression sees every
     * fit point once with each label, so its optimum is zero weights and every test record ties:
     * exactly 0.5. Uniformity by hand: unit rows e1, e2, e1 are at squared distances 2, 0 and 2
     * apart, so the six ordered pairs give (4 e^-4 + 2) / 6.
     */
    @Test
    void identicalModalitiesHaveNoGap() {
        float[][] rows = {{1, 0}, {0, 3}, {2, 0}};
        Map<String, Double> metrics = evaluate(NO_PLOT, new FixedEvalContext(manager).tower("image", rows)
                .tower("text", rows).towers("image", "text")).metrics();
        assertEquals(List.of("alignment", "uniformity/image", "uniformity/text", "modality_gap", "gap_separability"),
                List.copyOf(metrics.keySet()));
        assertEquals(0.0, metrics.get("alignment"), 1e-12);
        assertEquals(0.0, metrics.get("modality_gap"), 1e-12);
        assertEquals(Math.log((4 * Math.exp(-4) + 2) / 6), metrics.get("uniformity/image"), 1e-6);
        assertEquals(0.5, metrics.get("gap_separability"), 1e-12);

        Clusters random = Clusters.of(1, 60, 8, 1.0, 4);
        Map<String, Double> many = evaluate(NO_PLOT, new FixedEvalContext(manager).tower("image", random.rows())
                .tower("text", random.rows()).towers("image", "text").seed(9)).metrics();
        assertEquals(0.5, many.get("gap_separability"), 1e-12);
    }

    /** The text tower is the image tower shifted far along a new axis: a hyperplane separates them. */
    @Test
    void separatedModalitiesAreFullySeparable() {
        Random random = new Random(1);
        float[][] images = new float[40][9];
        float[][] texts = new float[40][9];
        for (int i = 0; i < images.length; i++) {
            for (int j = 0; j < 8; j++) {
                images[i][j] = (float) random.nextGaussian();
                texts[i][j] = images[i][j] + (float) (0.1 * random.nextGaussian());
            }
            texts[i][8] = 3;
        }
        Map<String, Double> metrics = evaluate(NO_PLOT, new FixedEvalContext(manager).tower("image", images)
                .tower("text", texts).towers("image", "text")).metrics();
        assertEquals(1.0, metrics.get("gap_separability"));
        assertTrue(metrics.get("modality_gap") > 0.5, metrics.toString());
    }

    @Test
    void theProjectionIsAPngUnderTheArtifactDirectory() throws IOException {
        Clusters a = Clusters.of(3, 20, 8, 0.3, 1);
        FixedEvalContext context = new FixedEvalContext(manager).tower("image", a.rows())
                .tower("text", Clusters.of(3, 20, 8, 0.3, 2).rows()).towers("image", "text");
        EvalResult result = evaluate(DEFAULTS, context);
        assertEquals(List.of(context.artifactDir().resolve("projection.png")), result.artifacts());
        BufferedImage image = ImageIO.read(result.artifacts().get(0).toFile());
        assertEquals(800, image.getWidth());
        assertEquals(640, image.getHeight());
        assertTrue(evaluate(NO_PLOT, context).artifacts().isEmpty());
    }

    @Test
    void rejectsBadParametersAndTowersByTheirKeys() {
        assertEquals("test_fraction", assertThrows(InvalidParamException.class,
                () -> new GeometryEvaluator.Params(0, List.of(1e-3), true, 10)).key());
        assertEquals("l2", assertThrows(InvalidParamException.class,
                () -> new GeometryEvaluator.Params(0.5, List.of(-1.0), true, 10)).key());
        assertEquals("plot_points", assertThrows(InvalidParamException.class,
                () -> new GeometryEvaluator.Params(0.5, List.of(1e-3), true, 0)).key());
        for (List<String> towers : List.of(List.of("image"), List.of("image", "image"), List.of("a", "b", "c"))) {
            assertEquals("towers", assertThrows(InvalidParamException.class, () -> EvaluatorsPlugin.GEOMETRY.create(
                    DEFAULTS, TestContext.builder().optTowers(towers, 4).build())).key());
        }
    }

    @Test
    void unpairedTowersAreRefused() {
        FixedEvalContext context = new FixedEvalContext(manager).tower("image", new float[][] {{1, 0}, {0, 1}})
                .tower("text", new float[][] {{1, 0}}).towers("image", "text");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> evaluate(NO_PLOT, context));
        assertTrue(error.getMessage().contains("image has 2 rows and text has 1"), error.getMessage());
    }

    private static EvalResult evaluate(GeometryEvaluator.Params params, FixedEvalContext context) {
        return EvaluatorsPlugin.GEOMETRY.create(params, TestContext.builder().optTowers(context.towers(), 4).build())
                .evaluate(context);
    }
}
