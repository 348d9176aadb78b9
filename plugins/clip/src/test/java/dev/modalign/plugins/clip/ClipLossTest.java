package dev.modalign.plugins.clip;

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
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
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
 * ClipLoss against reference values that plugins/clip/src/test/python/make_reference.py computed
 * with numpy in float64 (hand-derived gradients, checked there against finite differences), and its
 * parameters, metrics and clipping of the learned scale.
 */
class ClipLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("image", "text");

    /** One case of clip_reference.json; embeddings are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            double maxLogitScale,
            double logitScale,
            double[][] a,
            double[][] b,
            double loss,
            double[][] gradA,
            double[][] gradB,
            double gradLogitScale) {}

    static Stream<Arguments> referenceCases() {
        // Every case with a learned scale; with a fixed one too, except where the case puts the scale
        // above the cap, which only an optimiser step on the parameter can do.
        return withFlag(cases("/clip_reference.json", ReferenceCase.class), ReferenceCase::name,
                c -> c.logitScale() <= Math.log(c.maxLogitScale()));
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, boolean learnable) {
        Loss loss = newLoss(new ClipLoss.Params(reference.temperature(), learnable, reference.maxLogitScale()));
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.logitScale()});
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
            }
        }
    }

    @Test
    void learnableTemperatureIsTheParameterLogitScaleStartingAtLogOfOneOverTemperature() {
        Loss loss = newLoss(new ClipLoss.Params(0.07, true, 100));
        assertEquals(1, loss.parameters().size());
        Parameter parameter = loss.parameters().get(0);
        assertEquals("logit_scale", parameter.getName());
        assertTrue(parameter.requiresGradient());
        assertEquals(Math.log(1 / 0.07), parameter.getArray().getFloat(), 1e-6);
    }

    @Test
    void fixedTemperatureHasNoParameter() {
        assertEquals(List.of(), newLoss(new ClipLoss.Params(0.07, false, 100)).parameters());
    }

    @Test
    void metricsAreTheTemperatureAndTheInBatchMatchingAccuracyWithoutGradient() {
        Loss loss = newLoss(new ClipLoss.Params(0.2, true, 100));
        try (NDManager step = manager.newSubManager()) {
            // Rows 0 and 1 match their partners; 2 and 3 are swapped in the second tower, so each
            // direction gets 2 of 4 right.
            NDArray a = step.create(new float[][] {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}});
            NDArray b = step.create(new float[][] {{2, 0, 0, 0}, {0, 3, 0, 0}, {0, 0, 0, 1}, {0, 0, 1, 0}});
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
            assertEquals(Set.of("temperature", "accuracy"), output.metrics().keySet());
            assertEquals(0.2, output.metrics().get("temperature").getFloat(), 1e-6);
            assertEquals(0.5, output.metrics().get("accuracy").getFloat(), 1e-6);
        }
    }

    @Test
    void matchedPairsCostLittleAndScoreFullAccuracy() {
        Loss loss = newLoss(new ClipLoss.Params(0.07, false, 100));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.eye(6);
            LossOutput matched = loss.compute(batch(TOWERS, a, a.mul(3)), step(step));
            LossOutput shuffled = loss.compute(batch(TOWERS, a, a.flip(0)), step(step));
            assertEquals(1.0, matched.metrics().get("accuracy").getFloat(), 1e-6);
            assertEquals(0.0, shuffled.metrics().get("accuracy").getFloat(), 1e-6);
            // Matched orthonormal pairs: each row is logsumexp over one logit of 1/0.07 and five of 0.
            double expected = Math.log(1 + 5 * Math.exp(-1 / 0.07));
            assertEquals(expected, matched.value().getFloat(), 1e-6);
            assertTrue(shuffled.value().getFloat() > 1 / 0.07 - 1, "mismatched pairs pay about the scale");
        }
    }

    @Test
    void afterStepClipsTheLearnedScaleToLogOfMaxLogitScale() {
        Loss loss = newLoss(new ClipLoss.Params(0.07, true, 100));
        NDArray logitScale = loss.parameters().get(0).getArray();
        try (NDManager step = manager.newSubManager()) {
            EncodedBatch batch = batch(TOWERS, step.eye(2), step.eye(2));
            logitScale.set(new float[] {(float) Math.log(1000)});
            loss.afterStep(batch, step(step));
            assertEquals((float) Math.log(100), logitScale.getFloat());
            logitScale.set(new float[] {2.5f});
            loss.afterStep(batch, step(step));
            assertEquals(2.5f, logitScale.getFloat(), "a scale below the cap is left alone");
        }
    }

    @Test
    void aScaleClippedToTheCapStillLearns() {
        Loss loss = newLoss(new ClipLoss.Params(0.07, true, 100));
        NDArray logitScale = loss.parameters().get(0).getArray();
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.eye(3);
            // Mismatched pairs: a smaller scale lowers the loss, so the gradient is positive.
            EncodedBatch mismatched = batch(TOWERS, a, a.flip(0));
            logitScale.set(new float[] {(float) Math.log(1000)});
            loss.afterStep(mismatched, step(step));
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                collector.backward(loss.compute(mismatched, step(step)).value());
            }
            float gradient = logitScale.getGradient().getFloat();
            assertTrue(gradient > 0, "the clip at the cap is inclusive, so the gradient passes; found " + gradient);
        }
    }

    @Test
    void rejectsAnythingButTwoTowers() {
        for (List<String> towers : List.of(List.of("image"), List.of("image", "text", "audio"))) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> new ClipLoss(new ClipLoss.Params(0.07, true, 100), context(towers)));
            assertEquals("towers", error.key());
            assertTrue(error.getMessage().startsWith("clip reads exactly two towers, found " + towers),
                    error.getMessage());
        }
        InvalidParamException same = assertThrows(InvalidParamException.class,
                () -> new ClipLoss(new ClipLoss.Params(0.07, true, 100), context(List.of("image", "image"))));
        assertEquals("towers", same.key());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        for (double temperature : new double[] {0, -0.07, Double.NaN, Double.POSITIVE_INFINITY}) {
            InvalidParamException error =
                    assertThrows(InvalidParamException.class, () -> new ClipLoss.Params(temperature, true, 100));
            assertEquals("temperature", error.key());
            assertTrue(error.getMessage().contains("must be > 0, found " + temperature), error.getMessage());
        }
        for (double cap : new double[] {0, -100, Double.NaN}) {
            assertEquals("max_logit_scale",
                    assertThrows(InvalidParamException.class, () -> new ClipLoss.Params(0.07, true, cap)).key());
        }
        InvalidParamException aboveCap =
                assertThrows(InvalidParamException.class, () -> new ClipLoss.Params(0.001, true, 100));
        assertEquals("temperature", aboveCap.key());
        assertTrue(aboveCap.getMessage().contains("raise max_logit_scale to at least 1000"), aboveCap.getMessage());
        assertEquals(0.01, new ClipLoss.Params(0.01, true, 100).temperature(), "1 / temperature at the cap is allowed");
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin clip = plugins.stream().filter(p -> p.name().equals("clip")).findFirst().orElseThrow();
        assertInstanceOf(ClipPlugin.class, clip);
        assertEquals("0.1.0", clip.version());
        assertEquals(ModalignApi.VERSION, clip.apiVersion());
        assertEquals(List.of("clip"), clip.losses().stream().map(f -> f.name()).toList());
    }

    private Loss newLoss(ClipLoss.Params params) {
        return LossFixtures.newLoss(ClipPlugin.CLIP, params, context(TOWERS), manager);
    }

    private static ComponentContext context(List<String> towers) {
        return TestContext.builder().optTowers(towers, 4).build();
    }
}
