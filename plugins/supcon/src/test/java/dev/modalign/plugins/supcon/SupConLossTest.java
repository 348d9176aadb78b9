package dev.modalign.plugins.supcon;

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
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SupConLoss against reference values that plugins/supcon/src/test/python/make_reference.py
 * computed with numpy in float64 (hand-derived gradients, checked there against finite
 * differences), and its labels, metrics and validation.
 */
class SupConLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;

    /** One case of supcon_reference.json: one [B, D] array per tower; float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            Double baseTemperature,
            long[] labels,
            double[][][] views,
            double loss,
            int anchorsWithoutPositives,
            double[][][] grads) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/supcon_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        List<String> towers = towerNames(reference.views().length);
        Loss loss = newLoss(new SupConLoss.Params(reference.temperature(), reference.baseTemperature()), towers);
        try (NDManager step = manager.newSubManager()) {
            List<NDArray> views = new ArrayList<>();
            for (double[][] view : reference.views()) {
                NDArray array = array(step, view);
                array.setRequiresGradient(true);
                views.add(array);
            }
            LossOutput output = computeWithGradients(loss, batch(towers, views, step.create(reference.labels())),
                    step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            for (int k = 0; k < views.size(); k++) {
                assertMatches(reference.grads()[k], views.get(k).getGradient(), REFERENCE_TOLERANCE,
                        reference.name() + " gradient with respect to tower " + towers.get(k));
            }
            assertEquals(reference.anchorsWithoutPositives(),
                    output.metrics().get("anchors_without_positives").getFloat(), reference.name());
        }
    }

    @Test
    void withDistinctLabelsAndTwoViewsOfOrthogonalRecordsEachAnchorHasOnlyItsOtherView() {
        double temperature = 0.5;
        Loss loss = newLoss(new SupConLoss.Params(temperature, null), List.of("a", "b"));
        try (NDManager step = manager.newSubManager()) {
            NDArray records = step.eye(3);
            LossOutput output = loss.compute(batch(List.of("a", "b"), List.of(records, records.mul(4)),
                    step.create(new long[] {5, 6, 7})), step(step));
            // Anchor i: its other view at logit 1/t, four views of other records at 0.
            double expected = Math.log1p(4 * Math.exp(-1 / temperature));
            assertEquals(expected, output.value().getFloat(), 1e-6);
            assertEquals(0f, output.metrics().get("anchors_without_positives").getFloat());
        }
    }

    @Test
    void baseTemperatureScalesTheLossByTemperatureOverBaseTemperature() {
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(6, 5));
            NDArray b = step.randomNormal(new Shape(6, 5));
            NDArray labels = step.create(new long[] {0, 1, 0, 1, 2, 2});
            List<String> towers = List.of("a", "b");
            float plain = newLoss(new SupConLoss.Params(0.1, null), towers)
                    .compute(batch(towers, List.of(a, b), labels), step(step)).value().getFloat();
            float scaled = newLoss(new SupConLoss.Params(0.1, 0.07), towers)
                    .compute(batch(towers, List.of(a, b), labels), step(step)).value().getFloat();
            assertEquals(plain * 0.1 / 0.07, scaled, 1e-5 * scaled);
        }
    }

    @Test
    void aBatchWhereNoAnchorHasAPositiveCostsNothingAndCountsThemAll() {
        Loss loss = newLoss(new SupConLoss.Params(0.1, null), List.of("a"));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(4, 3));
            a.setRequiresGradient(true);
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch(List.of("a"), List.of(a), step.create(new long[] {0, 1, 2, 3})),
                        step(step));
                collector.backward(output.value());
            }
            assertEquals(0f, output.value().getFloat(), 0f);
            assertEquals(4f, output.metrics().get("anchors_without_positives").getFloat());
            Tensors.assertClose(new float[12], a.getGradient().toFloatArray(), 0, "gradient without any positive");
        }
    }

    @Test
    void missingLabelsAreReportedWithTheDataKeyThatProvidesThem() {
        Loss loss = newLoss(new SupConLoss.Params(0.1, null), List.of("a", "b"));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(2, 3));
            DataException error = assertThrows(DataException.class,
                    () -> loss.compute(batch(List.of("a", "b"), List.of(a, a), null), step(step)));
            assertTrue(error.getMessage().contains("`label:` under data.train"), error.getMessage());
        }
    }

    @Test
    void rejectsTowersItCannotCompare() {
        SupConLoss.Params params = new SupConLoss.Params(0.1, null);
        assertEquals("towers", assertThrows(InvalidParamException.class,
                () -> new SupConLoss(params, TestContext.builder().optTowers(List.of(), 4).build())).key());
        InvalidParamException twice = assertThrows(InvalidParamException.class,
                () -> new SupConLoss(params, TestContext.builder().optTowers(List.of("a", "a"), 4).build()));
        assertEquals("towers", twice.key());
        ComponentContext mixed = TestContext.builder().optTowers(List.of("image", "text"))
                .optEmbedDims(Map.of("image", 128, "text", 64)).build();
        InvalidParamException dims = assertThrows(InvalidParamException.class, () -> new SupConLoss(params, mixed));
        assertEquals("towers", dims.key());
        assertTrue(dims.getMessage().contains("image: 128, text: 64"), dims.getMessage());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        for (double temperature : new double[] {0, -0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            InvalidParamException error =
                    assertThrows(InvalidParamException.class, () -> new SupConLoss.Params(temperature, null));
            assertEquals("temperature", error.key());
            assertTrue(error.getMessage().contains("found " + temperature), error.getMessage());
        }
        for (double base : new double[] {0, -0.07, Double.NaN}) {
            assertEquals("base_temperature",
                    assertThrows(InvalidParamException.class, () -> new SupConLoss.Params(0.1, base)).key());
        }
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin supcon = plugins.stream().filter(p -> p.name().equals("supcon")).findFirst().orElseThrow();
        assertInstanceOf(SupConPlugin.class, supcon);
        assertEquals(ModalignApi.VERSION, supcon.apiVersion());
        assertTrue(supcon.losses().stream().anyMatch(f -> f.name().equals("supcon")
                && f.description().contains("Supervised Contrastive Learning")));
    }

    private Loss newLoss(SupConLoss.Params params, List<String> towers) {
        return SupConPlugin.SUPCON.create(params, TestContext.builder().optTowers(towers, 4).build());
    }

    private static List<String> towerNames(int count) {
        return IntStream.range(0, count).mapToObj(k -> "tower" + k).toList();
    }

}
