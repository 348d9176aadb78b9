package dev.modalign.plugins.sbcl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.modalign.api.DataException;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ReferenceVectors;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SbclLoss against reference values for given subclasses that
 * plugins/sbcl/src/test/python/make_reference.py computed with numpy in float64 (hand-derived
 * gradients, checked there against finite differences), and its memory, clustering, assignment,
 * metrics and errors.
 */
class SbclLossTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final System.Logger LOG = System.getLogger(SbclLossTest.class.getName());
    private static final List<String> TOWERS = List.of("image", "text");
    private static double worstValueError;
    private static double worstGradientError;

    /** One case of sbcl_reference.json: one [B, D] array per tower; float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            Double baseTemperature,
            double classWeight,
            long[] labels,
            int[] clusters,
            double[] classTemperatures,
            double[][][] views,
            double loss,
            double subclassLoss,
            double classLoss,
            double[][][] grads) {}

    private NDManager manager;

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    @AfterAll
    static void reportWorstErrors() {
        LOG.log(System.Logger.Level.INFO, String.format("sbcl reference: worst relative error of values %.3g, of"
                + " gradients %.3g", worstValueError, worstGradientError));
    }

    /** The defaults of the parameter record. */
    static SbclLoss.Params defaults() {
        return new SbclLoss.Params(0.1, null, 0.1, true, 0.25, null, 10, 4096, 50, 20, 3);
    }

    static Stream<Named<ReferenceCase>> referenceCases() {
        return ReferenceVectors.cases("/sbcl_reference.json", ReferenceCase.class).stream()
                .map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradientsForGivenSubclasses(ReferenceCase reference) {
        List<String> towers = IntStream.range(0, reference.views().length).mapToObj(k -> "tower" + k).toList();
        SbclLoss loss = newLoss(new SbclLoss.Params(reference.temperature(), reference.baseTemperature(), 0.1, true,
                reference.classWeight(), null, 10, 4096, 50, 20, 3), towers, 7);
        try (NDManager step = manager.newSubManager()) {
            List<NDArray> views = new ArrayList<>();
            for (double[][] view : reference.views()) {
                NDArray array = ReferenceVectors.array(step, view);
                array.setRequiresGradient(true);
                views.add(array);
            }
            LossOutput output;
            EncodedBatch batch = LossFixtures.batch(towers, views, step.create(reference.labels()));
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch, LossFixtures.step(step), reference.clusters(),
                        reference.classTemperatures());
                collector.backward(output.value());
            }
            double values = Math.max(ReferenceVectors.assertMatches(reference.loss(), output.value(),
                    REFERENCE_TOLERANCE, reference.name() + " loss"), Math.max(
                    ReferenceVectors.assertMatches(reference.subclassLoss(), output.metrics().get("subclass_loss"),
                            REFERENCE_TOLERANCE, reference.name() + " subclass_loss"),
                    ReferenceVectors.assertMatches(reference.classLoss(), output.metrics().get("class_loss"),
                            REFERENCE_TOLERANCE, reference.name() + " class_loss")));
            double tolerance = gradientTolerance(reference);
            double gradients = 0;
            for (int k = 0; k < views.size(); k++) {
                gradients = Math.max(gradients, ReferenceVectors.assertMatches(reference.grads()[k],
                        views.get(k).getGradient(), tolerance, reference.name() + " gradient of " + towers.get(k)));
            }
            worstValueError = Math.max(worstValueError, values);
            worstGradientError = Math.max(worstGradientError, gradients);
            LOG.log(System.Logger.Level.INFO, String.format("sbcl reference %s: relative error of values %.3g,"
                    + " gradients %.3g", reference.name(), values, gradients));
        }
    }

    /**
     * 1e-5, widened in proportion below temperature 0.01 (as the protoclip and C3 tests do): at 0.001 the
     * logits reach 1000, float32 rounds them by about 6e-5, and the gradients, 1000 times the softmax's,
     * inherit that error. The loss values keep 1e-5.
     */
    private static double gradientTolerance(ReferenceCase reference) {
        double smallest = reference.temperature();
        for (double t : reference.classTemperatures()) {
            smallest = Math.min(smallest, t);
        }
        return REFERENCE_TOLERANCE * Math.max(1, 1 / smallest / 100);
    }

    /**
     * Three orthogonal records of distinct classes, seen by two towers (the second at 4 times the scale):
     * every anchor's only positive is its other view, at logit 1/t, against four views at 0. At both
     * levels (the class level's denominator is the other classes plus the other view) that is
     * log(1 + 4 exp(-1/t)).
     */
    @Test
    void distinctClassesOfOrthogonalRecordsGiveTheClosedForm() {
        double temperature = 0.5;
        SbclLoss loss = newLoss(new SbclLoss.Params(temperature, null, temperature, false, 0.25, null, 10, 64, 50, 20,
                1), TOWERS, 7);
        try (NDManager step = manager.newSubManager()) {
            NDArray records = step.eye(3);
            LossOutput output = loss.compute(LossFixtures.batch(TOWERS, List.of(records, records.mul(4)),
                    step.create(new long[] {5, 6, 7})), LossFixtures.step(step));
            double expected = Math.log1p(4 * Math.exp(-1 / temperature));
            assertEquals(expected, output.metrics().get("subclass_loss").getFloat(), 1e-6);
            assertEquals(expected, output.metrics().get("class_loss").getFloat(), 1e-6);
            assertEquals(1.25 * expected, output.value().getFloat(), 1e-6);
        }
    }

    /**
     * One tower, records 0 and 1 of class 0 in different subclasses, record 2 of class 1, at unit vectors
     * e0, e1, e0. Subclass level: no anchor has a positive (0). Class level: anchors 0 and 1 have each
     * other as their only positive, against each other and record 2 (anchor 1 sees it at logit 0,
     * anchor 0 at 1/t): L_0 = log(1 + e^{1/t}), L_1 = log(2); record 2 has none.
     */
    @Test
    void theClassLevelPullsOtherSubclassesOfTheClassAgainstOtherClasses() {
        double t = 0.5;
        SbclLoss loss = newLoss(new SbclLoss.Params(t, null, t, false, 1.0, null, 10, 64, 50, 20, 1),
                List.of("image"), 7);
        try (NDManager step = manager.newSubManager()) {
            NDArray records = step.create(new float[][] {{1, 0}, {0, 1}, {1, 0}});
            LossOutput output = loss.compute(LossFixtures.batch(List.of("image"), List.of(records),
                    step.create(new long[] {0, 0, 1})), LossFixtures.step(step), new int[] {0, 1, 0},
                    new double[] {t, t, t});
            assertEquals(0f, output.metrics().get("subclass_loss").getFloat(), 0f);
            double expected = (Math.log1p(Math.exp(1 / t)) + Math.log(2)) / 2;
            assertEquals(expected, output.metrics().get("class_loss").getFloat(), 1e-6);
            assertEquals(expected, output.value().getFloat(), 1e-6);
            assertEquals(3f, output.metrics().get("batch_subclasses").getFloat());
        }
    }

    @Test
    void beforeTheFirstClusteringEveryRecordIsInOneSubclassOfItsClass() {
        SbclLoss loss = newLoss(defaults(), TOWERS, 7);
        Random random = new Random(5);
        try (NDManager step = manager.newSubManager()) {
            EncodedBatch batch = randomBatch(step, random, new long[] {0, 1, 0, 2, 1, 0}, 6);
            LossOutput plain = loss.compute(batch, LossFixtures.step(step));
            LossOutput given = loss.compute(batch, LossFixtures.step(step), new int[6], new double[] {0.1, 0.1, 0.1,
                    0.1, 0.1, 0.1});
            assertNull(loss.subclasses());
            assertEquals(given.value().getFloat(), plain.value().getFloat(), 0f);
            assertEquals(3f, plain.metrics().get("batch_subclasses").getFloat(), "one subclass per class");
        }
    }

    /**
     * Two classes, two towers: class 0 in two groups (A: image near e0, caption near e1; B: e2, e3), class 1
     * near e4, e5. With M = 4 (the smaller class's count) the 8 records of class 0 make 2 subclasses and the
     * 4 of class 1 one; nothing is clustered before recluster_every = 2 steps.
     */
    @Test
    void afterStepClustersEachClassEveryReclusterEveryStepsAndAssignsBatchesToNearestSubclasses() {
        SbclLoss loss = newLoss(new SbclLoss.Params(0.1, null, 0.1, true, 0.25, null, 1, 64, 2, 20, 3), TOWERS, 7);
        Random random = new Random(11);
        try (NDManager step = manager.newSubManager()) {
            loss.afterStep(groupBatch(step, random), LossFixtures.step(step));
            assertNull(loss.subclasses(), "no clustering before recluster_every steps");
            loss.afterStep(groupBatch(step, random), LossFixtures.step(step));
            Subclasses subclasses = loss.subclasses();
            assertNotNull(subclasses);
            assertEquals(4, subclasses.subclassSize());
            assertEquals(2, subclasses.classes().get(0L).centroids().length);
            assertEquals(1, subclasses.classes().get(1L).centroids().length);
            assertEquals(0.1, subclasses.temperature(1L), 1e-12, "a one-subclass class keeps class_temperature");

            EncodedBatch batch = groupBatch(step, random);
            long[] labels = batch.labels().toLongArray();
            LossOutput output = loss.compute(batch, LossFixtures.step(step));
            assertEquals(3f, output.metrics().get("batch_subclasses").getFloat());
            // Rows 0, 2 are group A and rows 1, 3 group B of class 0; rows 4, 5 class 1.
            int a = subclasses.assign(0, rowFeature(batch, 0));
            int b = subclasses.assign(0, rowFeature(batch, 1));
            assertNotEquals(a, b, "the two groups of class 0 are two subclasses");
            assertEquals(a, subclasses.assign(0, rowFeature(batch, 2)));
            assertEquals(b, subclasses.assign(0, rowFeature(batch, 3)));
            int[] clusters = {a, b, a, b, 0, 0};
            double[] temperatures = new double[6];
            for (int r = 0; r < 6; r++) {
                temperatures[r] = subclasses.temperature(labels[r]);
            }
            LossOutput given = loss.compute(batch, LossFixtures.step(step), clusters, temperatures);
            assertEquals(given.value().getFloat(), output.value().getFloat(), 0f);
        }
    }

    @Test
    void theSubclassesAreTheSameForASeedAndFollowTheMemory() {
        SbclLoss first = newLoss(new SbclLoss.Params(0.1, null, 0.1, true, 0.25, null, 1, 12, 2, 20, 1), TOWERS, 21);
        SbclLoss second = newLoss(new SbclLoss.Params(0.1, null, 0.1, true, 0.25, null, 1, 12, 2, 20, 1), TOWERS, 21);
        Random random = new Random(13);
        try (NDManager step = manager.newSubManager()) {
            float[][] earlier = null;
            for (int s = 0; s < 6; s++) {
                EncodedBatch batch = groupBatch(step, random);
                first.afterStep(batch, LossFixtures.step(step));
                second.afterStep(batch, LossFixtures.step(step));
                if (s == 1) {
                    earlier = first.subclasses().classes().get(0L).centroids();
                }
            }
            assertArrayEquals(first.subclasses().classes().get(0L).centroids(),
                    second.subclasses().classes().get(0L).centroids());
            assertEquals(first.subclasses().temperature(0L), second.subclasses().temperature(0L), 0);
            assertFalse(Arrays.deepEquals(earlier, first.subclasses().classes().get(0L).centroids()),
                    "later clusterings see a later memory");
        }
    }

    @Test
    void metricsAreDetached() {
        SbclLoss loss = newLoss(defaults(), TOWERS, 7);
        try (NDManager step = manager.newSubManager()) {
            EncodedBatch batch = randomBatch(step, new Random(3), new long[] {0, 1, 0, 1}, 5);
            batch.towers().values().forEach(t -> t.embedding().setRequiresGradient(true));
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                LossOutput output = loss.compute(batch, LossFixtures.step(step));
                assertEquals(Set.of("subclass_loss", "class_loss", "batch_subclasses"), output.metrics().keySet());
                for (Map.Entry<String, NDArray> metric : output.metrics().entrySet()) {
                    assertThrows(EngineException.class, () -> collector.backward(metric.getValue()),
                            "the metric " + metric.getKey() + " must be detached from the graph");
                }
            }
        }
    }

    @Test
    void missingLabelsAreReportedWithTheDataKeyThatProvidesThem() {
        SbclLoss loss = newLoss(defaults(), TOWERS, 7);
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(2, 3));
            EncodedBatch batch = LossFixtures.batch(TOWERS, a, a);
            for (Runnable call : List.<Runnable>of(() -> loss.compute(batch, LossFixtures.step(step)),
                    () -> loss.afterStep(batch, LossFixtures.step(step)))) {
                DataException error = assertThrows(DataException.class, call::run);
                assertTrue(error.getMessage().contains("`label:` under data.train"), error.getMessage());
            }
        }
    }

    @Test
    void rejectsTowersItCannotCompare() {
        for (List<String> towers : List.of(List.<String>of(), List.of("a", "a"))) {
            assertEquals("towers", assertThrows(InvalidParamException.class,
                    () -> new SbclLoss(defaults(), TestContext.builder().optTowers(towers, 4).build())).key());
        }
        InvalidParamException dims = assertThrows(InvalidParamException.class, () -> new SbclLoss(defaults(),
                TestContext.builder().optTowers(TOWERS).optEmbedDims(Map.of("image", 128, "text", 64)).build()));
        assertEquals("towers", dims.key());
        assertTrue(dims.getMessage().contains("image: 128, text: 64"), dims.getMessage());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        for (double t : new double[] {0, -0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> new SbclLoss.Params(t, null, 0.1, true, 0.25, null, 10, 4096, 50, 20, 3));
            assertEquals("temperature", error.key());
            assertTrue(error.getMessage().contains("found " + t), error.getMessage());
        }
        assertEquals("base_temperature", assertThrows(InvalidParamException.class,
                () -> new SbclLoss.Params(0.1, 0.0, 0.1, true, 0.25, null, 10, 4096, 50, 20, 3)).key());
        assertEquals("class_temperature", assertThrows(InvalidParamException.class,
                () -> new SbclLoss.Params(0.1, null, -1, true, 0.25, null, 10, 4096, 50, 20, 3)).key());
        assertEquals("class_weight", assertThrows(InvalidParamException.class,
                () -> new SbclLoss.Params(0.1, null, 0.1, true, -0.25, null, 10, 4096, 50, 20, 3)).key());
        assertEquals("subclass_size", assertThrows(InvalidParamException.class,
                () -> new SbclLoss.Params(0.1, null, 0.1, true, 0.25, 0, 10, 4096, 50, 20, 3)).key());
        assertEquals("min_subclass_size", assertThrows(InvalidParamException.class,
                () -> new SbclLoss.Params(0.1, null, 0.1, true, 0.25, null, 0, 4096, 50, 20, 3)).key());
        assertEquals("memory_size", assertThrows(InvalidParamException.class,
                () -> new SbclLoss.Params(0.1, null, 0.1, true, 0.25, null, 10, 0, 50, 20, 3)).key());
        assertEquals("recluster_every", assertThrows(InvalidParamException.class,
                () -> new SbclLoss.Params(0.1, null, 0.1, true, 0.25, null, 10, 4096, 0, 20, 3)).key());
        assertEquals("kmeans_iterations", assertThrows(InvalidParamException.class,
                () -> new SbclLoss.Params(0.1, null, 0.1, true, 0.25, null, 10, 4096, 50, 0, 3)).key());
        assertEquals("kmeans_restarts", assertThrows(InvalidParamException.class,
                () -> new SbclLoss.Params(0.1, null, 0.1, true, 0.25, null, 10, 4096, 50, 20, 0)).key());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("sbcl")).findFirst().orElseThrow();
        assertInstanceOf(SbclPlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertTrue(plugin.losses().stream().anyMatch(f -> f.name().equals("sbcl")
                && f.description().contains("Subclass-balancing Contrastive Learning for Long-tailed Recognition")));
    }

    private SbclLoss newLoss(SbclLoss.Params params, List<String> towers, long seed) {
        return (SbclLoss) LossFixtures.newLoss(SbclPlugin.SBCL, params,
                TestContext.builder().optSeed(seed).optTowers(towers, towers.size() == 2 ? 6 : 2).build(), manager);
    }

    private static EncodedBatch randomBatch(NDManager step, Random random, long[] labels, int dim) {
        List<NDArray> views = new ArrayList<>();
        for (int k = 0; k < TOWERS.size(); k++) {
            float[][] rows = new float[labels.length][dim];
            for (float[] row : rows) {
                for (int j = 0; j < dim; j++) {
                    row[j] = (float) random.nextGaussian();
                }
            }
            views.add(step.create(rows));
        }
        return LossFixtures.batch(TOWERS, views, step.create(labels));
    }

    /** Six records in 6 dimensions: rows 0, 2 group A of class 0, rows 1, 3 group B, rows 4, 5 class 1; noise 0.05. */
    private static EncodedBatch groupBatch(NDManager step, Random random) {
        int[] imageAxis = {0, 2, 0, 2, 4, 4};
        float[][] images = new float[6][6];
        float[][] texts = new float[6][6];
        for (int r = 0; r < 6; r++) {
            for (int j = 0; j < 6; j++) {
                images[r][j] = (float) ((j == imageAxis[r] ? 1 : 0) + 0.05 * random.nextGaussian());
                texts[r][j] = (float) ((j == imageAxis[r] + 1 ? 1 : 0) + 0.05 * random.nextGaussian());
            }
        }
        return LossFixtures.batch(TOWERS, List.of(step.create(images), step.create(texts)),
                step.create(new long[] {0, 0, 0, 0, 1, 1}));
    }

    /** A record's feature as the loss forms it: both towers' rows, each L2-normalised, one after the other. */
    private static float[] rowFeature(EncodedBatch batch, int row) {
        float[] feature = new float[12];
        for (int k = 0; k < 2; k++) {
            float[] values = batch.tower(TOWERS.get(k)).embedding().get(row).toFloatArray();
            double norm = 0;
            for (float v : values) {
                norm += v * v;
            }
            for (int j = 0; j < 6; j++) {
                feature[k * 6 + j] = (float) (values[j] / Math.sqrt(norm));
            }
        }
        return feature;
    }
}
