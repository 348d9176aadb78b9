package dev.modalign.plugins.siglip;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.withFlag;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.lang.reflect.RecordComponent;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SigLipLoss against reference values that plugins/siglip/src/test/python/make_reference.py
 * computed with numpy in float64 (hand-derived gradients, checked there against finite
 * differences), and its parameters, metrics and validation.
 */
class SigLipLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("image", "text");

    /** One case of siglip_reference.json; embeddings are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            double logitScale,
            double bias,
            double[][] a,
            double[][] b,
            double loss,
            double[][] gradA,
            double[][] gradB,
            double gradLogitScale,
            double gradBias) {}

    static Stream<Arguments> referenceCases() {
        return withFlag(cases("/siglip_reference.json", ReferenceCase.class), ReferenceCase::name, c -> true);
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, boolean learnable) {
        Loss loss = newLoss(new SigLipLoss.Params(reference.temperature(), reference.bias(), learnable));
        if (learnable) {
            assertEquals((float) reference.logitScale(), loss.parameters().get(0).getArray().getFloat(),
                    "logit_scale starts at float32(log(1 / temperature)), as the reference assumes");
        }
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
            if (learnable) {
                assertMatches(reference.gradLogitScale(), loss.parameters().get(0).getArray().getGradient(),
                        REFERENCE_TOLERANCE, reference.name() + " gradient with respect to logit_scale");
                assertMatches(reference.gradBias(), loss.parameters().get(1).getArray().getGradient(),
                        REFERENCE_TOLERANCE, reference.name() + " gradient with respect to logit_bias");
            }
        }
    }

    @Test
    void learnableParametersAreLogitScaleAndLogitBiasStartingAtThePapersValues() {
        Loss loss = newLoss(new SigLipLoss.Params(0.1, -10, true));
        assertEquals(List.of("logit_scale", "logit_bias"), loss.parameters().stream().map(Parameter::getName).toList());
        assertTrue(loss.parameters().stream().allMatch(Parameter::requiresGradient));
        // Section 3.2: "t' = log 10 and b = -10".
        assertEquals(Math.log(10), loss.parameters().get(0).getArray().getFloat(), 1e-6);
        assertEquals(-10f, loss.parameters().get(1).getArray().getFloat());
    }

    @Test
    void fixedScaleAndBiasHaveNoParameter() {
        assertEquals(List.of(), newLoss(new SigLipLoss.Params(0.1, -10, false)).parameters());
    }

    @Test
    void theDefaultsAreThePapersInitialisation() {
        Map<String, String> defaults = new LinkedHashMap<>();
        for (RecordComponent component : SigLipLoss.Params.class.getRecordComponents()) {
            defaults.put(component.getName(), component.getAnnotation(Default.class).value());
        }
        assertEquals(Map.of("temperature", "0.1", "bias", "-10", "learnable", "true"), defaults);
    }

    @Test
    void orthonormalMatchedPairsCostLogTwoPerPositiveAndSoftplusOfTheBiasPerNegative() {
        Loss loss = newLoss(new SigLipLoss.Params(0.1, -10, false));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.eye(5);
            // Positives: 10 * 1 - 10 = 0, each costs log 2; negatives: 10 * 0 - 10, each log(1 + e^-10).
            float matched = loss.compute(batch(TOWERS, a, a.mul(7)), step(step)).value().getFloat();
            assertEquals(Math.log(2) + 4 * Math.log1p(Math.exp(-10)), matched, 1e-6);
            // Shuffled: each row has one negative at logit 0 and its positive at -10.
            float shuffled = loss.compute(batch(TOWERS, a, a.flip(0)), step(step)).value().getFloat();
            // Row 2 of a flipped 5x5 identity is its own partner: one matched positive, the rest as above.
            double expected = (4 * (Math.log1p(Math.exp(10)) + Math.log(2) + 3 * Math.log1p(Math.exp(-10)))
                    + (Math.log(2) + 4 * Math.log1p(Math.exp(-10)))) / 5;
            assertEquals(expected, shuffled, 1e-5);
        }
    }

    @Test
    void metricsAreTheTemperatureAndTheBiasWithoutGradient() {
        Loss loss = newLoss(new SigLipLoss.Params(0.2, -3, true));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(4, 3));
            NDArray b = step.randomNormal(new Shape(4, 3));
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch(TOWERS, a, b), step(step));
                for (Map.Entry<String, NDArray> metric : output.metrics().entrySet()) {
                    // Back-propagating from a detached array fails: it is in no graph.
                    assertThrows(EngineException.class, () -> collector.backward(metric.getValue()),
                            "the metric " + metric.getKey() + " must be detached from the graph");
                }
            }
            assertEquals(Set.of("temperature", "bias"), output.metrics().keySet());
            assertEquals(0.2, output.metrics().get("temperature").getFloat(), 1e-6);
            assertEquals(-3, output.metrics().get("bias").getFloat(), 1e-6);
        }
    }

    @Test
    void rejectsAnythingButTwoDifferentTowers() {
        for (List<String> towers : List.of(List.of("image"), List.of("image", "text", "audio"))) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> new SigLipLoss(new SigLipLoss.Params(0.1, -10, true), context(towers)));
            assertEquals("towers", error.key());
            assertTrue(error.getMessage().startsWith("siglip reads exactly two towers, found " + towers),
                    error.getMessage());
        }
        InvalidParamException same = assertThrows(InvalidParamException.class,
                () -> new SigLipLoss(new SigLipLoss.Params(0.1, -10, true), context(List.of("image", "image"))));
        assertEquals("towers", same.key());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        for (double temperature : new double[] {0, -0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            InvalidParamException error =
                    assertThrows(InvalidParamException.class, () -> new SigLipLoss.Params(temperature, -10, true));
            assertEquals("temperature", error.key());
            assertTrue(error.getMessage().contains("found " + temperature), error.getMessage());
        }
        for (double bias : new double[] {Double.NaN, Double.NEGATIVE_INFINITY}) {
            assertEquals("bias",
                    assertThrows(InvalidParamException.class, () -> new SigLipLoss.Params(0.1, bias, true)).key());
        }
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin siglip = plugins.stream().filter(p -> p.name().equals("siglip")).findFirst().orElseThrow();
        assertInstanceOf(SigLipPlugin.class, siglip);
        assertEquals(ModalignApi.VERSION, siglip.apiVersion());
        assertEquals(List.of("siglip"), siglip.losses().stream().map(f -> f.name()).toList());
        assertTrue(siglip.losses().get(0).description().contains("Sigmoid Loss for Language Image Pre-Training"));
    }

    private Loss newLoss(SigLipLoss.Params params) {
        return LossFixtures.newLoss(SigLipPlugin.SIGLIP, params, context(TOWERS), manager);
    }

    private static ComponentContext context(List<String> towers) {
        return TestContext.builder().optTowers(towers, 4).build();
    }
}
