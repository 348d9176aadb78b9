package dev.modalign.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.StepContext;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ClipLoss against reference values that plugins/clip/src/test/python/make_reference.py computed
 * with numpy in float64 (hand-derived gradients, checked there against finite differences), and its
 * parameters, metrics and clipping of the learned scale.
 */
class ClipLossTest {

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

    record ReferenceFile(String description, List<ReferenceCase> cases) {}

    private NDManager manager;

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    static Stream<Arguments> referenceCases() throws IOException {
        Gson gson = new GsonBuilder().setFieldNamingPolicy(FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES).create();
        try (InputStream stream = ClipLossTest.class.getResourceAsStream("/clip_reference.json");
                Reader reader = new InputStreamReader(stream, StandardCharsets.UTF_8)) {
            List<ReferenceCase> cases = gson.fromJson(reader, ReferenceFile.class).cases();
            // Every case with a learned scale; with a fixed one too, except where the case puts the scale
            // above the cap, which only an optimiser step on the parameter can do.
            return cases.stream().flatMap(c -> c.logitScale() > Math.log(c.maxLogitScale())
                    ? Stream.of(Arguments.of(Named.of(c.name(), c), true))
                    : Stream.of(Arguments.of(Named.of(c.name(), c), true), Arguments.of(Named.of(c.name(), c), false)));
        }
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, boolean learnable) {
        Loss loss = newLoss(new ClipLoss.Params(reference.temperature(), learnable, reference.maxLogitScale()));
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.logitScale()});
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.create(toFloat(reference.a()));
            NDArray b = step.create(toFloat(reference.b()));
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch(a, b), step(step));
                collector.backward(output.value());
            }
            Tensors.assertClose(new float[] {(float) reference.loss()}, new float[] {output.value().getFloat()},
                    REFERENCE_TOLERANCE, reference.name() + " loss");
            Tensors.assertClose(flatten(reference.gradA()), a.getGradient().toFloatArray(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the first tower's raw embeddings");
            Tensors.assertClose(flatten(reference.gradB()), b.getGradient().toFloatArray(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the second tower's raw embeddings");
            if (learnable) {
                Tensors.assertClose(new float[] {(float) reference.gradLogitScale()},
                        new float[] {loss.parameters().get(0).getArray().getGradient().getFloat()},
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
                output = loss.compute(batch(a, b), step(step));
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
            LossOutput matched = loss.compute(batch(a, a.mul(3)), step(step));
            LossOutput shuffled = loss.compute(batch(a, a.flip(0)), step(step));
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
            EncodedBatch batch = batch(step.eye(2), step.eye(2));
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
            EncodedBatch mismatched = batch(a, a.flip(0));
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
        Loss loss = ClipPlugin.CLIP.create(params, context(TOWERS));
        for (Parameter parameter : loss.parameters()) {
            parameter.initialize(manager, DataType.FLOAT32);
        }
        return loss;
    }

    private static ComponentContext context(List<String> towers) {
        return TestContext.builder().optTowers(towers, 4).build();
    }

    private static EncodedBatch batch(NDArray first, NDArray second) {
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        towers.put(TOWERS.get(0), new TowerOutput(first));
        towers.put(TOWERS.get(1), new TowerOutput(second));
        return new EncodedBatch(towers, null);
    }

    private static StepContext step(NDManager step) {
        return new StepContext(0, 0, 1, new Random(0), step, true);
    }

    private static float[][] toFloat(double[][] rows) {
        float[][] values = new float[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            values[i] = new float[rows[i].length];
            for (int j = 0; j < rows[i].length; j++) {
                values[i][j] = (float) rows[i][j];
            }
        }
        return values;
    }

    private static float[] flatten(double[][] rows) {
        float[][] values = toFloat(rows);
        return Arrays.stream(values).reduce(new float[0], ClipLossTest::concat);
    }

    private static float[] concat(float[] first, float[] second) {
        float[] joined = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, joined, first.length, second.length);
        return joined;
    }
}
