package dev.modalign.plugins.debiased;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * DebiasedContrastiveLoss against reference values that
 * plugins/debiased/src/test/python/make_reference.py computed with numpy in float64 (hand-derived
 * gradients, checked there against finite differences), and its limits, metric and validation.
 */
class DebiasedContrastiveLossTest {

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

    static Stream<Named<ReferenceCase>> referenceCases() throws IOException {
        Gson gson = new GsonBuilder().setFieldNamingPolicy(FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES).create();
        try (InputStream stream = DebiasedContrastiveLossTest.class.getResourceAsStream("/debiased_reference.json");
                Reader reader = new InputStreamReader(stream, StandardCharsets.UTF_8)) {
            return gson.fromJson(reader, ReferenceFile.class).cases().stream().map(c -> Named.of(c.name(), c));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        Loss loss = newLoss(new DebiasedContrastiveLoss.Params(reference.temperature(), reference.tauPlus()));
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
            float value = loss.compute(batch(a, b), step(step)).value().getFloat();
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
            LossOutput output = loss.compute(batch(a, a.mul(2)), step(step));
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
                LossOutput output = loss.compute(batch(a, a.flip(0)), step(step));
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
        int width = rows.length == 0 ? 0 : rows[0].length;
        float[] values = new float[rows.length * width];
        for (int i = 0; i < rows.length; i++) {
            for (int j = 0; j < width; j++) {
                values[i * width + j] = (float) rows[i][j];
            }
        }
        return values;
    }
}
