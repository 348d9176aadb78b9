package dev.modalign.plugins.dexml;

import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * DexmlLoss against reference values that plugins/dexml/src/test/python/make_reference.py computed with
 * numpy in float64 (hand-derived gradients, checked there against finite differences), with the keys given
 * once as group ids and once as labels; and its positives, metrics and validation.
 */
class DexmlLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("image", "text");

    /** One case of dexml_reference.json; embeddings are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            boolean symmetric,
            double maxLogitScale,
            double logitScale,
            long[] keys,
            double[][] a,
            double[][] b,
            double loss,
            double extraPositives,
            double[][] gradA,
            double[][] gradB,
            double gradLogitScale) {}

    /** Every case with keys as groups and as labels, with a learned scale, and with a fixed one where it is under the cap. */
    static Stream<Arguments> referenceCases() {
        return cases("/dexml_reference.json", ReferenceCase.class).stream().flatMap(c -> {
            Named<ReferenceCase> named = Named.of(c.name(), c);
            Stream<Arguments> learned = Stream.of(Arguments.of(named, DexmlLoss.Positives.GROUP, true),
                    Arguments.of(named, DexmlLoss.Positives.LABEL, true));
            return c.logitScale() <= Math.log(c.maxLogitScale())
                    ? Stream.concat(learned, Stream.of(Arguments.of(named, DexmlLoss.Positives.GROUP, false)))
                    : learned;
        });
    }

    @ParameterizedTest(name = "{0}, positives={1}, learnable={2}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, DexmlLoss.Positives positives,
            boolean learnable) {
        Loss loss = newLoss(new DexmlLoss.Params(reference.temperature(), learnable, reference.maxLogitScale(),
                positives, reference.symmetric()));
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.logitScale()});
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            // Groups as strings that are not the keys themselves, so that only their equality can matter.
            List<String> groups = Arrays.stream(reference.keys()).mapToObj(k -> "item-" + (k * 7 + 3)).toList();
            EncodedBatch batch = positives == DexmlLoss.Positives.GROUP
                    ? withGroups(LossFixtures.batch(TOWERS, a, b), groups)
                    : new EncodedBatch(LossFixtures.batch(TOWERS, a, b).towers(), step.create(reference.keys()));
            LossOutput output = computeWithGradients(loss, batch, step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.gradA(), a.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the first tower's raw embeddings");
            assertMatches(reference.gradB(), b.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the second tower's raw embeddings");
            if (learnable) {
                assertMatches(reference.gradLogitScale(), loss.parameters().get(0).getArray().getGradient(),
                        REFERENCE_TOLERANCE, reference.name() + " gradient with respect to logit_scale");
            }
            assertMatches(reference.extraPositives(), output.metrics().get("extra_positives"), 1e-6,
                    reference.name() + " extra positives per query");
        }
    }

    @Test
    void anotherPositiveOfTheQueryIsNotPushedAwayAsInfoNceWouldPushIt() {
        // Rows 0 and 1 are two copies of one item (one image, one caption); rows 2 and 3 are items of their own.
        // At temperature 0.01 the aligned batch costs nothing under DecoupledSoftmax, but when rows 0 and 1 are
        // told apart (InfoNCE) each of them can at best split its probability with the other: log(2) for each of
        // the four queries that meet the copy, i.e. log(2) / 2 over the batch, in each direction.
        Loss loss = newLoss(new DexmlLoss.Params(0.01, false, 100, DexmlLoss.Positives.GROUP, true));
        try (NDManager step = manager.newSubManager()) {
            NDArray rows = step.create(new float[][] {{1, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}});
            float decoupled = loss.compute(withGroups(LossFixtures.batch(TOWERS, rows, rows),
                    List.of("frog", "frog", "bear", "tux")), step(step)).value().getFloat();
            float separate = loss.compute(withGroups(LossFixtures.batch(TOWERS, rows, rows),
                    List.of("frog-1", "frog-2", "bear", "tux")), step(step)).value().getFloat();
            assertEquals(0, decoupled, 1e-6);
            assertEquals(Math.log(2) / 2, separate, 1e-5);
        }
    }

    @Test
    void withoutGroupIdsEachRowIsItsOwnItem() {
        Loss loss = newLoss(new DexmlLoss.Params(0.07, false, 100, DexmlLoss.Positives.GROUP, true));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new ai.djl.ndarray.types.Shape(6, 4));
            NDArray b = a.add(step.randomNormal(new ai.djl.ndarray.types.Shape(6, 4)));
            LossOutput none = loss.compute(LossFixtures.batch(TOWERS, a, b), step(step));
            LossOutput distinct = loss.compute(withGroups(LossFixtures.batch(TOWERS, a, b),
                    List.of("1", "2", "3", "4", "5", "6")), step(step));
            assertEquals(distinct.value().getFloat(), none.value().getFloat(), 1e-6);
            assertEquals(0f, none.metrics().get("extra_positives").getFloat());
        }
    }

    @Test
    void groupIdsBecomeIndicesInOrderOfFirstAppearance() {
        assertArrayEquals(new long[] {0, 1, 0, 2, 1}, DexmlLoss.denseIndices(List.of("x", "y", "x", "z", "y")));
    }

    @Test
    void labelPositivesWithoutLabelsSayWhereLabelsComeFrom() {
        Loss loss = newLoss(new DexmlLoss.Params(0.07, true, 100, DexmlLoss.Positives.LABEL, true));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new ai.djl.ndarray.types.Shape(3, 4));
            DataException error = assertThrows(DataException.class,
                    () -> loss.compute(LossFixtures.batch(TOWERS, a, a), step(step)));
            assertTrue(error.getMessage().contains("`label:` under data.train"), error.getMessage());
        }
    }

    @Test
    void learnableTemperatureIsTheParameterLogitScaleAndIsClippedAfterAStep() {
        Loss loss = newLoss(new DexmlLoss.Params(0.07, true, 100, DexmlLoss.Positives.GROUP, true));
        assertEquals(1, loss.parameters().size());
        Parameter parameter = loss.parameters().get(0);
        assertEquals("logit_scale", parameter.getName());
        assertEquals(Math.log(1 / 0.07), parameter.getArray().getFloat(), 1e-6);
        parameter.getArray().set(new float[] {(float) Math.log(1000)});
        try (NDManager step = manager.newSubManager()) {
            loss.afterStep(LossFixtures.batch(TOWERS, step.ones(new ai.djl.ndarray.types.Shape(1, 2)),
                    step.ones(new ai.djl.ndarray.types.Shape(1, 2))), step(step));
        }
        assertEquals(Math.log(100), parameter.getArray().getFloat(), 1e-6);
        assertEquals(List.of(), newLoss(new DexmlLoss.Params(0.07, false, 100, DexmlLoss.Positives.GROUP, true))
                .parameters());
    }

    @Test
    void rejectsBadParametersAndTowersByTheirKeys() {
        for (double temperature : new double[] {0, -1, Double.NaN, 0.001}) {
            assertEquals("temperature", assertThrows(InvalidParamException.class,
                    () -> new DexmlLoss.Params(temperature, true, 100, DexmlLoss.Positives.GROUP, true)).key());
        }
        assertEquals("max_logit_scale", assertThrows(InvalidParamException.class,
                () -> new DexmlLoss.Params(0.07, true, 0, DexmlLoss.Positives.GROUP, true)).key());
        assertEquals("positives", assertThrows(InvalidParamException.class,
                () -> new DexmlLoss.Params(0.07, true, 100, null, true)).key());
        DexmlLoss.Params params = new DexmlLoss.Params(0.07, true, 100, DexmlLoss.Positives.GROUP, true);
        assertEquals("towers", assertThrows(InvalidParamException.class,
                () -> new DexmlLoss(params, TestContext.builder().optTowers(List.of("a", "a"), 4).build())).key());
        assertEquals("towers", assertThrows(InvalidParamException.class,
                () -> new DexmlLoss(params, TestContext.builder().optTowers(List.of("a"), 4).build())).key());
        ComponentContext mixed = TestContext.builder().optTowers(List.of("image", "text"))
                .optEmbedDims(Map.of("image", 128, "text", 64)).build();
        InvalidParamException dims = assertThrows(InvalidParamException.class, () -> new DexmlLoss(params, mixed));
        assertTrue(dims.getMessage().contains("embed_dim"), dims.getMessage());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithThePapersTitle() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin dexml = plugins.stream().filter(p -> p.name().equals("dexml")).findFirst().orElseThrow();
        assertInstanceOf(DexmlPlugin.class, dexml);
        assertEquals(ModalignApi.VERSION, dexml.apiVersion());
        assertTrue(dexml.losses().stream().anyMatch(f -> f.name().equals("dexml")
                && f.description().contains("Dual-Encoders for Extreme Multi-Label Classification")));
    }

    private static EncodedBatch withGroups(EncodedBatch batch, List<String> groups) {
        return new EncodedBatch(batch.towers(), batch.labels(), groups);
    }

    private Loss newLoss(DexmlLoss.Params params) {
        return LossFixtures.newLoss(DexmlPlugin.DEXML, params, TestContext.builder().optTowers(TOWERS, 4).build(),
                manager);
    }
}
