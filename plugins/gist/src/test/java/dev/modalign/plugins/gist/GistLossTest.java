package dev.modalign.plugins.gist;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * GistLoss against reference values that plugins/gist/src/test/python/make_reference.py computed with
 * numpy in float64 (hand-derived gradients, checked there against finite differences), and its masks,
 * metric, guide handling and errors.
 */
class GistLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final System.Logger LOG = System.getLogger(GistLossTest.class.getName());

    /** One case of gist_reference.json; arrays are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            double margin,
            double[][] a,
            double[][] b,
            List<double[][]> guides,
            double loss,
            double[][] gradA,
            double[][] gradB,
            double maskedFraction,
            int[][] maskFirst,
            int[][] maskSecond) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/gist_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossGradientsAndMasks(ReferenceCase reference) {
        List<String> guides = reference.guides().size() == 1 ? List.of("guide") : List.of("guide_a", "guide_b");
        GistLoss loss = newLoss(new GistLoss.Params(guides, reference.temperature(), reference.margin()));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            Map<String, NDArray> towers = new LinkedHashMap<>();
            towers.put("image", a);
            towers.put("text", b);
            for (int k = 0; k < guides.size(); k++) {
                towers.put(guides.get(k), array(step, reference.guides().get(k)));
            }
            EncodedBatch batch = batch(towers, null);
            LossOutput output = computeWithGradients(loss, batch, step(step));
            int size = reference.a().length;
            GistLoss.GuideMasks masks = loss.guideMasks(batch, size);
            assertArrayEquals(toBooleans(reference.maskFirst()), masks.firstToSecond(),
                    reference.name() + ": first->second mask");
            assertArrayEquals(toBooleans(reference.maskSecond()), masks.secondToFirst(),
                    reference.name() + ": second->first mask");
            double valueError = relativeError(reference.loss(), output.value());
            double gradientError = Math.max(relativeError(reference.gradA(), a.getGradient()),
                    relativeError(reference.gradB(), b.getGradient()));
            LOG.log(System.Logger.Level.INFO, String.format("gist reference %s: max relative error value %.3g,"
                    + " gradients %.3g", reference.name(), valueError, gradientError));
            assertTrue(valueError <= REFERENCE_TOLERANCE, reference.name() + ": loss off by " + valueError
                    + ": expected " + reference.loss() + ", found " + output.value().getFloat());
            assertTrue(gradientError <= REFERENCE_TOLERANCE, reference.name() + ": gradients off by " + gradientError);
            assertEquals(reference.maskedFraction(), output.metrics().get("masked_fraction").getFloat(), 1e-6);
        }
    }

    @Test
    void theGuideGetsNoGradientAndTheMetricIsDetached() {
        GistLoss loss = newLoss(new GistLoss.Params(List.of("guide"), 0.05, 0.5));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(6, 4));
            NDArray b = a.add(step.randomNormal(new Shape(6, 4)).mul(0.3));
            NDArray guide = b.add(step.randomNormal(new Shape(6, 4)).mul(0.1));
            for (NDArray array : List.of(a, b, guide)) {
                array.setRequiresGradient(true);
            }
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch(List.of("image", "text", "guide"), a, b, guide), step(step));
                NDArray metric = output.metrics().get("masked_fraction");
                assertThrows(EngineException.class, () -> collector.backward(metric), "the metric is detached");
                collector.backward(output.value());
            }
            assertTrue(a.getGradient().abs().sum().getFloat() > 0);
            assertEquals(0f, guide.getGradient().abs().sum().getFloat(), "the guide's similarities carry no gradient");
        }
    }

    /** Without masks the loss is CLIP's at a fixed temperature; masking a hard negative lowers it. */
    @Test
    void maskingAFalseNegativeRemovesItFromTheDenominator() {
        try (NDManager step = manager.newSubManager()) {
            // Rows 0 and 1 are near-duplicates in both towers, so each is a hard negative of the other.
            NDArray a = step.create(new float[][] {{1, 0, 0}, {0.95f, 0.3f, 0}, {0, 0, 1}});
            NDArray b = step.create(new float[][] {{1, 0.1f, 0}, {0.9f, 0.35f, 0}, {0, 0.2f, 1}});
            NDArray distinct = step.eye(3);
            NDArray sameFirstTwo = step.create(new float[][] {{1, 0, 0}, {1, 0, 0}, {0, 0, 1}});
            float unmasked = loss(a, b, distinct, step);
            float masked = loss(a, b, sameFirstTwo, step);
            double tau = 0.1;
            float[] s = a.div(a.norm(new int[] {1}, true)).matMul(b.div(b.norm(new int[] {1}, true)).transpose())
                    .toFloatArray();
            // Independent CLIP at tau, and the same with entries (0, 1) and (1, 0) left out of both directions.
            assertEquals(clip(s, 3, tau, false), unmasked, 1e-5);
            assertEquals(clip(s, 3, tau, true), masked, 1e-5);
            assertTrue(masked < unmasked, "masking the false negatives lowers the loss: " + masked + " vs " + unmasked);
        }
    }

    private float loss(NDArray a, NDArray b, NDArray guide, NDManager step) {
        GistLoss loss = newLoss(new GistLoss.Params(List.of("guide"), 0.1, 0.01));
        return loss.compute(batch(List.of("image", "text", "guide"), a, b, guide), step(step)).value().getFloat();
    }

    private static double clip(float[] s, int n, double tau, boolean maskFirstPair) {
        double total = 0;
        for (int direction = 0; direction < 2; direction++) {
            for (int i = 0; i < n; i++) {
                double denominator = 0;
                for (int j = 0; j < n; j++) {
                    if (maskFirstPair && i != j && i < 2 && j < 2) {
                        continue;
                    }
                    double sim = direction == 0 ? s[i * n + j] : s[j * n + i];
                    denominator += Math.exp(sim / tau);
                }
                total += -(s[i * n + i] / tau - Math.log(denominator));
            }
        }
        return total / (2 * n);
    }

    @Test
    void rejectsBadTowersGuidesAndParametersByTheirKeys() {
        GistLoss.Params params = new GistLoss.Params(List.of("guide"), 0.01, 0);
        for (List<String> towers : List.of(List.of("image"), List.of("image", "text", "guide"), List.of("text", "text"))) {
            assertEquals("towers", assertThrows(InvalidParamException.class,
                    () -> new GistLoss(params, context(towers, List.of("image", "text", "guide")))).key());
        }
        InvalidParamException unknown = assertThrows(InvalidParamException.class,
                () -> new GistLoss(new GistLoss.Params(List.of("teacher"), 0.01, 0), context(List.of("image", "text"),
                        List.of("image", "text", "guide"))));
        assertEquals("guide", unknown.key());
        assertTrue(unknown.getMessage().contains("'teacher'"), unknown.getMessage());
        assertEquals("guide", assertThrows(InvalidParamException.class,
                () -> new GistLoss.Params(List.of(), 0.01, 0)).key());
        assertEquals("guide", assertThrows(InvalidParamException.class,
                () -> new GistLoss.Params(List.of("a", "b", "c"), 0.01, 0)).key());
        for (double temperature : new double[] {0, -1, Double.NaN}) {
            assertEquals("temperature", assertThrows(InvalidParamException.class,
                    () -> new GistLoss.Params(List.of("guide"), temperature, 0)).key());
        }
        assertEquals("margin", assertThrows(InvalidParamException.class,
                () -> new GistLoss.Params(List.of("guide"), 0.01, Double.NaN)).key());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("gist")).findFirst().orElseThrow();
        assertInstanceOf(GistPlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals(List.of("gist"), plugin.losses().stream().map(f -> f.name()).toList());
    }

    private static GistLoss newLoss(GistLoss.Params params) {
        return (GistLoss) GistPlugin.GIST.create(params,
                context(List.of("image", "text"), List.of("image", "text", "guide", "guide_a", "guide_b")));
    }

    /** The loss's towers, and every tower of the run (each with some embedding size). */
    private static ComponentContext context(List<String> lossTowers, List<String> runTowers) {
        return TestContext.builder().optTowers(runTowers, 4).optTowers(lossTowers, 4).build();
    }

    private static boolean[] toBooleans(int[][] rows) {
        boolean[] out = new boolean[rows.length * rows.length];
        for (int i = 0; i < rows.length; i++) {
            for (int j = 0; j < rows[i].length; j++) {
                out[i * rows.length + j] = rows[i][j] != 0;
            }
        }
        return out;
    }
}
