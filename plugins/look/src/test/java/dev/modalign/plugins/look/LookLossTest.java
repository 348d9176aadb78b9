package dev.modalign.plugins.look;

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

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
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
 * LookLoss against reference values that plugins/look/src/test/python/make_reference.py computed with
 * numpy in float64 (hand-derived gradients, checked there against finite differences), a case worked by
 * hand, and its labels, metrics and validation.
 */
class LookLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;

    /** One case of look_reference.json: one [B, D] array per tower; float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            int k,
            long[] labels,
            double[][][] views,
            double loss,
            int anchorsWithoutClassmates,
            int anchorsWithAddedClassmate,
            double neighbourAgreement,
            double[][][] grads) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/look_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        List<String> towers = towerNames(reference.views().length);
        Loss loss = newLoss(new LookLoss.Params(reference.temperature(), reference.k()), towers);
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
            for (int t = 0; t < views.size(); t++) {
                assertMatches(reference.grads()[t], views.get(t).getGradient(), REFERENCE_TOLERANCE,
                        reference.name() + " gradient with respect to tower " + towers.get(t));
            }
            assertEquals(reference.anchorsWithoutClassmates(),
                    output.metrics().get("anchors_without_classmates").getFloat(), reference.name());
            assertEquals(reference.anchorsWithAddedClassmate(),
                    output.metrics().get("anchors_with_added_classmate").getFloat(), reference.name());
            assertEquals(reference.neighbourAgreement(), output.metrics().get("neighbour_agreement").getFloat(), 1e-6,
                    reference.name());
        }
    }

    @Test
    void anchorsWhoseNearestNeighbourIsOfAnotherClassPullTheirNearestClassmateIn() {
        // Four unit views on a quarter circle, labels [0, 0, 1, 1], k = 1, t = 1. Cosines: 0-1 0.8, 0-2 0.6,
        // 0-3 0, 1-2 0.96, 1-3 0.6, 2-3 0.8. Views 0 and 3 have a class-mate as their nearest neighbour and cost
        // nothing; the nearest neighbour of 1 is 2 (another class), so 1's nearest class-mate 0 joins the vote:
        // L_1 = -log(e^0.8 / (e^0.8 + e^0.96)) = log(1 + e^0.16), and likewise for 2 with 3.
        Loss loss = newLoss(new LookLoss.Params(1.0, 1), List.of("image"));
        try (NDManager step = manager.newSubManager()) {
            NDArray views = step.create(new float[][] {{1, 0}, {0.8f, 0.6f}, {0.6f, 0.8f}, {0, 1}});
            LossOutput output = loss.compute(batch(List.of("image"), List.of(views), step.create(new long[] {0, 0, 1, 1})),
                    step(step));
            assertEquals(Math.log(1 + Math.exp(0.16)) / 2, output.value().getFloat(), 1e-6);
            assertEquals(2f, output.metrics().get("anchors_with_added_classmate").getFloat());
            assertEquals(0.5, output.metrics().get("neighbour_agreement").getFloat(), 1e-6);
        }
    }

    @Test
    void aClassInTwoSeparateModesCostsLittleWhenEachViewsNeighboursAreItsModeMates() {
        // Class 0 lives in two clusters far apart, class 1 in a third; with k = 1 every view's nearest neighbour is
        // in its own cluster, so LOOK asks nothing more, though SupCon would pull the two clusters of class 0 together.
        Loss loss = newLoss(new LookLoss.Params(0.1, 1), List.of("image"));
        try (NDManager step = manager.newSubManager()) {
            NDArray views = step.create(new float[][] {
                {1, 0.05f, 0}, {1, -0.05f, 0}, {0, 1, 0.05f}, {0, 1, -0.05f}, {0.05f, 0, 1}, {-0.05f, 0, 1}});
            float value = loss.compute(batch(List.of("image"), List.of(views),
                    step.create(new long[] {0, 0, 0, 0, 1, 1})), step(step)).value().getFloat();
            assertEquals(0, value, 1e-6);
        }
    }

    @Test
    void missingLabelsAreReportedWithTheDataKeyThatProvidesThem() {
        Loss loss = newLoss(new LookLoss.Params(0.1, 3), List.of("a", "b"));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(2, 3));
            DataException error = assertThrows(DataException.class,
                    () -> loss.compute(batch(List.of("a", "b"), List.of(a, a), null), step(step)));
            assertTrue(error.getMessage().contains("`label:` under data.train"), error.getMessage());
        }
    }

    @Test
    void rejectsBadParametersAndTowersByTheirKeys() {
        for (double temperature : new double[] {0, -0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertEquals("temperature",
                    assertThrows(InvalidParamException.class, () -> new LookLoss.Params(temperature, 3)).key());
        }
        assertEquals("k", assertThrows(InvalidParamException.class, () -> new LookLoss.Params(0.1, 0)).key());
        LookLoss.Params params = new LookLoss.Params(0.1, 3);
        assertEquals("towers", assertThrows(InvalidParamException.class,
                () -> new LookLoss(params, TestContext.builder().optTowers(List.of(), 4).build())).key());
        assertEquals("towers", assertThrows(InvalidParamException.class,
                () -> new LookLoss(params, TestContext.builder().optTowers(List.of("a", "a"), 4).build())).key());
        ComponentContext mixed = TestContext.builder().optTowers(List.of("image", "text"))
                .optEmbedDims(Map.of("image", 128, "text", 64)).build();
        InvalidParamException dims = assertThrows(InvalidParamException.class, () -> new LookLoss(params, mixed));
        assertTrue(dims.getMessage().contains("image: 128, text: 64"), dims.getMessage());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithThePapersTitle() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin look = plugins.stream().filter(p -> p.name().equals("look")).findFirst().orElseThrow();
        assertInstanceOf(LookPlugin.class, look);
        assertEquals(ModalignApi.VERSION, look.apiVersion());
        assertTrue(look.losses().stream().anyMatch(f -> f.name().equals("look")
                && f.description().contains("Rethinking Supervised Pre-training for Better Downstream Transferring")));
    }

    private Loss newLoss(LookLoss.Params params, List<String> towers) {
        return LossFixtures.newLoss(LookPlugin.LOOK, params, TestContext.builder().optTowers(towers, 4).build(), manager);
    }

    private static List<String> towerNames(int count) {
        return IntStream.range(0, count).mapToObj(k -> "tower" + k).toList();
    }
}
