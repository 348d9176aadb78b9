package dev.modalign.plugins.debiased;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
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
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * DebiasedContrastiveLoss against reference values that
 * plugins/debiased/src/test/python/make_reference.py computed with numpy in float64 (hand-derived
 * gradients, checked there against finite differences), and its limits, metric and validation.
 */
class DebiasedContrastiveLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("image", "text");

    /** One case of debiased_reference.json; embeddings are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            double tauPlus,
            double[][] a,
            double[][] b,
            double loss,
            int clampedRows,
            double[][] gradA,
            double[][] gradB) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/debiased_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        Loss loss = newLoss(new DebiasedContrastiveLoss.Params(reference.temperature(), reference.tauPlus()));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            LossOutput output = computeWithGradients(loss, batch(TOWERS, a, b), step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.gradA(), a.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the first tower's raw embeddings");
            assertMatches(reference.gradB(), b.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the second tower's raw embeddings");
            // Both directions have B rows each.
            assertEquals(reference.clampedRows() / (2.0 * reference.a().length),
                    output.metrics().get("clamped_fraction").getFloat(), 1e-6, reference.name() + " clamped rows");
        }
    }

    @Test
    void withoutTheCorrectionItIsTheSymmetricInfoNce() {
        double temperature = 0.3;
        Loss loss = newLoss(new DebiasedContrastiveLoss.Params(temperature, 0));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(5, 4));
            NDArray b = a.add(step.randomNormal(new Shape(5, 4)));
            float value = loss.compute(batch(TOWERS, a, b), step(step)).value().getFloat();
            // CLIP's cross-entropies at a fixed temperature, computed here from the cosine matrix.
            float[] cosines = a.div(a.norm(new int[] {1}, true)).matMul(b.div(b.norm(new int[] {1}, true)).transpose())
                    .toFloatArray();
            double expected = 0;
            for (int i = 0; i < 5; i++) {
                double row = 0;
                double column = 0;
                for (int j = 0; j < 5; j++) {
                    row += Math.exp(cosines[i * 5 + j] / temperature);
                    column += Math.exp(cosines[j * 5 + i] / temperature);
                }
                expected += (Math.log(row) + Math.log(column)) / 2 - cosines[i * 5 + i] / temperature;
            }
            assertEquals(expected / 5, value, 1e-5);
        }
    }

    @Test
    void aNegativeEstimateBelowItsMinimumIsFlooredAtNTimesExpOfMinusOneOverT() {
        double temperature = 0.5;
        Loss loss = newLoss(new DebiasedContrastiveLoss.Params(temperature, 0.5));
        try (NDManager step = manager.newSubManager()) {
            // Orthonormal matched pairs: pos = e^2, each of the 3 negatives e^0, and
            // (3 - 0.5 * 3 * e^2) / 0.5 < 0, so Ng = 3 e^-2 in every row.
            NDArray a = step.eye(4);
            LossOutput output = loss.compute(batch(TOWERS, a, a.mul(2)), step(step));
            double expected = Math.log(Math.exp(2) + 3 * Math.exp(-2)) - 2;
            assertEquals(expected, output.value().getFloat(), 1e-6);
            assertEquals(1f, output.metrics().get("clamped_fraction").getFloat());
        }
    }

    @Test
    void theMetricIsDetached() {
        Loss loss = newLoss(new DebiasedContrastiveLoss.Params(0.5, 0.1));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(4, 3));
            a.setRequiresGradient(true);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                LossOutput output = loss.compute(batch(TOWERS, a, a.flip(0)), step(step));
                assertEquals(List.of("clamped_fraction"), List.copyOf(output.metrics().keySet()));
                assertThrows(EngineException.class, () -> collector.backward(output.metrics().get("clamped_fraction")));
            }
        }
    }

    @Test
    void rejectsAnythingButTwoDifferentTowers() {
        DebiasedContrastiveLoss.Params params = new DebiasedContrastiveLoss.Params(0.5, 0.1);
        for (List<String> towers : List.of(List.of("image"), List.of("image", "text", "audio"))) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> new DebiasedContrastiveLoss(params, context(towers)));
            assertEquals("towers", error.key());
            assertTrue(error.getMessage().startsWith("debiased reads exactly two towers, found " + towers),
                    error.getMessage());
        }
        assertEquals("towers", assertThrows(InvalidParamException.class,
                () -> new DebiasedContrastiveLoss(params, context(List.of("text", "text")))).key());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        for (double temperature : new double[] {0, -0.5, Double.NaN, Double.POSITIVE_INFINITY}) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> new DebiasedContrastiveLoss.Params(temperature, 0.1));
            assertEquals("temperature", error.key());
            assertTrue(error.getMessage().contains("found " + temperature), error.getMessage());
        }
        for (double tauPlus : new double[] {-0.1, 1, 1.5, Double.NaN}) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> new DebiasedContrastiveLoss.Params(0.5, tauPlus));
            assertEquals("tau_plus", error.key());
            assertTrue(error.getMessage().contains("found " + tauPlus), error.getMessage());
        }
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin debiased = plugins.stream().filter(p -> p.name().equals("debiased")).findFirst().orElseThrow();
        assertInstanceOf(DebiasedPlugin.class, debiased);
        assertEquals(ModalignApi.VERSION, debiased.apiVersion());
        assertEquals(List.of("debiased"), debiased.losses().stream().map(f -> f.name()).toList());
        assertTrue(debiased.losses().get(0).description().contains("Debiased Contrastive Learning"));
    }

    private Loss newLoss(DebiasedContrastiveLoss.Params params) {
        return DebiasedPlugin.DEBIASED.create(params, context(TOWERS));
    }

    private static ComponentContext context(List<String> towers) {
        return TestContext.builder().optTowers(towers, 4).build();
    }
}
