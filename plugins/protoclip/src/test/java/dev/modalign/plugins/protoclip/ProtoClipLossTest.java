package dev.modalign.plugins.protoclip;

import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.floats;
import static dev.modalign.testkit.ReferenceVectors.relativeError;
import static dev.modalign.testkit.ReferenceVectors.withFlag;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ProtoClipLoss against reference values for given prototypes that
 * plugins/protoclip/src/test/python/make_reference.py computed with numpy in float64 (hand-derived
 * gradients, checked there against finite differences), and its memory, clustering, prototypes and
 * errors.
 */
class ProtoClipLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final System.Logger LOG = System.getLogger(ProtoClipLossTest.class.getName());
    private static final List<String> TOWERS = List.of("image", "text");

    /** One case of protoclip_reference.json; arrays are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double[][] a,
            double[][] b,
            double temperature,
            double protoTemperature,
            double maxLogitScale,
            double teacherTemperature,
            double instanceWeight,
            double protoWeight,
            double logitScale,
            double protoLogitScale,
            double[][] imageCentroids,
            double[][] textCentroids,
            double[][] imageStudent,
            double[][] textStudent,
            double loss,
            double instanceLoss,
            Double protoLoss,
            Double protoAccuracy,
            double[][] gradA,
            double[][] gradB,
            double gradLogitScale,
            double gradProtoLogitScale) {}

    /** The defaults of the parameter record. */
    static ProtoClipLoss.Params defaults() {
        return new ProtoClipLoss.Params(0.07, 0.07, true, 100, 0.01, 64, 2048, 100, 20, 3, 1.0, 1.0, true);
    }

    static Stream<Arguments> referenceCases() {
        // Learned scales for every case; fixed ones too, except where the case puts a scale above the cap,
        // which only an optimiser step on the parameter can do.
        return withFlag(cases("/protoclip_reference.json", ReferenceCase.class), ReferenceCase::name,
                c -> c.logitScale() <= Math.log(c.maxLogitScale()));
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, boolean learnable) {
        ProtoClipLoss loss = newLoss(new ProtoClipLoss.Params(reference.temperature(), reference.protoTemperature(),
                learnable, reference.maxLogitScale(), reference.teacherTemperature(), 1, 2048, 100, 20, 3,
                reference.instanceWeight(), reference.protoWeight(), true), 7);
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.logitScale()});
            loss.parameters().get(1).getArray().set(new float[] {(float) reference.protoLogitScale()});
        }
        if (reference.imageCentroids() != null) {
            loss.usePrototypes(Prototypes.of(floats(reference.imageCentroids()), floats(reference.textCentroids()),
                    floats(reference.imageStudent()), floats(reference.textStudent()), reference.teacherTemperature()));
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            LossOutput output = computeWithGradients(loss, LossFixtures.batch(TOWERS, a, b), step(step));
            double valueError = Math.max(relativeError(reference.loss(), output.value()),
                    relativeError(reference.instanceLoss(), output.metrics().get("instance_loss")));
            double gradientError = Math.max(relativeError(reference.gradA(), a.getGradient()),
                    relativeError(reference.gradB(), b.getGradient()));
            double scaleError = 0;
            if (learnable) {
                List<Parameter> scales = loss.parameters();
                scaleError = Math.max(relativeError(reference.gradLogitScale(), scales.get(0).getArray().getGradient()),
                        relativeError(reference.gradProtoLogitScale(), scales.get(1).getArray().getGradient()));
            }
            if (reference.protoLoss() == null) {
                assertFalse(output.metrics().containsKey("proto_loss"), "no prototype term before the first clustering");
            } else {
                valueError = Math.max(valueError,
                        relativeError(reference.protoLoss(), output.metrics().get("proto_loss")));
                assertEquals(reference.protoAccuracy(), output.metrics().get("proto_accuracy").getFloat(), 1e-6,
                        reference.name() + ": prototype accuracy");
            }
            LOG.log(System.Logger.Level.INFO, String.format("protoclip reference %s (learnable %b): max relative error"
                    + " values %.3g, embedding gradients %.3g, scale gradients %.3g", reference.name(), learnable,
                    valueError, gradientError, scaleError));
            assertTrue(valueError <= REFERENCE_TOLERANCE, reference.name() + ": loss or its parts off by " + valueError
                    + ": expected " + reference.loss() + ", found " + output.value().getFloat());
            double tolerance = gradientTolerance(Math.min(reference.temperature(), reference.protoTemperature()));
            assertTrue(gradientError <= tolerance, reference.name() + ": gradients off by " + gradientError
                    + " (relative), more than " + tolerance);
            assertTrue(scaleError <= REFERENCE_TOLERANCE, reference.name() + ": scale gradients off by " + scaleError);
        }
    }

    /**
     * 1e-5, widened in proportion below temperature 0.01 (as C3's test does): at 0.001 the logits reach
     * 1000, float32 rounds them by about 6e-5, and the gradients, 1000 times the softmax's, inherit that
     * relative error. The loss values keep 1e-5.
     */
    private static double gradientTolerance(double temperature) {
        return REFERENCE_TOLERANCE * Math.max(1, 1 / temperature / 100);
    }

    /**
     * Pairs of two groups: images near e0 or e1, their captions near e2 or e3. K = 2, a memory of 8 and a
     * clustering every 2 steps of 4 pairs: nothing before the second step, then the groups.
     */
    @Test
    void afterStepClustersTheMemoryEveryReclusterEveryStepsWithBackTranslatedStudents() {
        ProtoClipLoss loss = newLoss(small(true), 7);
        float[][][][] batches = twoGroupBatches(2, 11);
        try (NDManager step = manager.newSubManager()) {
            loss.afterStep(batch(step, batches[0]), step(step));
            assertNull(loss.prototypes(), "no clustering before recluster_every steps");
            LossOutput before = loss.compute(batch(step, batches[1]), step(step));
            assertEquals(Set.of("temperature", "proto_temperature", "instance_loss"), before.metrics().keySet());
            assertEquals(before.metrics().get("instance_loss").getFloat(), before.value().getFloat(), 1e-6,
                    "before the first clustering the loss is the instance term");
            loss.afterStep(batch(step, batches[1]), step(step));
            Prototypes prototypes = loss.prototypes();
            assertNotNull(prototypes, "clustered after recluster_every steps");
            assertEquals(2, prototypes.count());

            // Each text cluster is one group; with back translation its image student is the mean of that
            // group's normalised images in the memory, computed here independently.
            for (int k = 0; k < 2; k++) {
                float[] textCentroid = prototypes.textCentroids()[k];
                int group = textCentroid[2] > textCentroid[3] ? 0 : 1;
                double[] expected = groupMean(batches, 0, group);
                for (int j = 0; j < expected.length; j++) {
                    assertEquals(expected[j], prototypes.imageStudent()[k][j], 1e-5, "image student of text cluster " + k);
                }
                float[] imageCentroid = prototypes.imageCentroids()[k];
                int imageGroup = imageCentroid[0] > imageCentroid[1] ? 0 : 1;
                double[] expectedText = groupMean(batches, 1, imageGroup);
                for (int j = 0; j < expectedText.length; j++) {
                    assertEquals(expectedText[j], prototypes.textStudent()[k][j], 1e-5,
                            "text student of image cluster " + k);
                }
            }
            LossOutput after = loss.compute(batch(step, batches[0]), step(step));
            assertTrue(after.metrics().containsKey("proto_loss"), "the prototype term applies once clustered");
            assertEquals(1f, after.metrics().get("proto_accuracy").getFloat(),
                    "each image's best text prototype is its caption's cluster");
            assertEquals(after.metrics().get("instance_loss").getFloat() + after.metrics().get("proto_loss").getFloat(),
                    after.value().getFloat(), 1e-5);
        }
    }

    @Test
    void withoutBackTranslationTheStudentsAreTheOtherModalitysCentroids() {
        ProtoClipLoss loss = newLoss(small(false), 7);
        float[][][][] batches = twoGroupBatches(2, 12);
        try (NDManager step = manager.newSubManager()) {
            for (float[][][] pairs : batches) {
                loss.afterStep(batch(step, pairs), step(step));
            }
        }
        Prototypes prototypes = loss.prototypes();
        assertArrayEquals(prototypes.textCentroids(), prototypes.imageStudent());
        assertArrayEquals(prototypes.imageCentroids(), prototypes.textStudent());
    }

    @Test
    void theStateIsTheSameForASeedAndReclusteringFollowsTheMemory() {
        float[][][][] batches = twoGroupBatches(6, 13);
        ProtoClipLoss first = newLoss(small(true), 21);
        ProtoClipLoss second = newLoss(small(true), 21);
        try (NDManager step = manager.newSubManager()) {
            Prototypes earlier = null;
            for (int s = 0; s < batches.length; s++) {
                first.afterStep(batch(step, batches[s]), step(step));
                second.afterStep(batch(step, batches[s]), step(step));
                if (s == 1) {
                    earlier = first.prototypes();
                }
            }
            for (Prototypes p : List.of(first.prototypes(), second.prototypes())) {
                assertNotNull(p);
            }
            assertArrayEquals(first.prototypes().imageCentroids(), second.prototypes().imageCentroids());
            assertArrayEquals(first.prototypes().textCentroids(), second.prototypes().textCentroids());
            assertArrayEquals(first.prototypes().imageStudent(), second.prototypes().imageStudent());
            assertArrayEquals(first.prototypes().textTeacher(), second.prototypes().textTeacher());
            assertFalse(Arrays.deepEquals(earlier.imageCentroids(), first.prototypes().imageCentroids()),
                    "later clusterings see a later memory");
        }
    }

    @Test
    void theTeacherIsTheSoftmaxOfCentroidSimilaritiesAtTheTeacherTemperature() {
        float[][] centroids = {{1, 0}, {0.8f, 0.6f}, {0, 1}};
        Prototypes prototypes = Prototypes.of(centroids, centroids, centroids, centroids, 0.5);
        for (int row = 0; row < 3; row++) {
            double[] logits = new double[3];
            double total = 0;
            for (int column = 0; column < 3; column++) {
                logits[column] = Math.exp((centroids[row][0] * centroids[column][0]
                        + centroids[row][1] * centroids[column][1]) / 0.5);
                total += logits[column];
            }
            for (int column = 0; column < 3; column++) {
                assertEquals(logits[column] / total, prototypes.textTeacher()[row][column], 1e-6);
            }
        }
    }

    @Test
    void afterStepClipsTheLearnedScalesToLogOfMaxLogitScale() {
        ProtoClipLoss loss = newLoss(small(true), 7);
        try (NDManager step = manager.newSubManager()) {
            loss.parameters().get(0).getArray().set(new float[] {(float) Math.log(1000)});
            loss.parameters().get(1).getArray().set(new float[] {2.5f});
            loss.afterStep(batch(step, twoGroupBatches(1, 3)[0]), step(step));
            assertEquals((float) Math.log(100), loss.parameters().get(0).getArray().getFloat());
            assertEquals(2.5f, loss.parameters().get(1).getArray().getFloat(), "a scale below the cap is left alone");
        }
        assertEquals(List.of("logit_scale", "proto_logit_scale"),
                loss.parameters().stream().map(Parameter::getName).toList());
    }

    @Test
    void metricsAreDetached() {
        ProtoClipLoss loss = newLoss(small(true), 7);
        float[][][][] batches = twoGroupBatches(2, 14);
        try (NDManager step = manager.newSubManager()) {
            for (float[][][] pairs : batches) {
                loss.afterStep(batch(step, pairs), step(step));
            }
            EncodedBatch batch = batch(step, batches[0]);
            batch.towers().values().forEach(t -> t.embedding().setRequiresGradient(true));
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                LossOutput output = loss.compute(batch, step(step));
                assertEquals(Set.of("temperature", "proto_temperature", "instance_loss", "proto_loss", "proto_accuracy"),
                        output.metrics().keySet());
                for (Map.Entry<String, NDArray> metric : output.metrics().entrySet()) {
                    assertThrows(EngineException.class, () -> collector.backward(metric.getValue()),
                            "the metric " + metric.getKey() + " must be detached from the graph");
                }
            }
        }
    }

    @Test
    void rejectsBadTowersAndParametersByTheirKeys() {
        for (List<String> towers : List.of(List.of("image"), List.of("image", "text", "audio"), List.of("a", "a"))) {
            assertEquals("towers", assertThrows(InvalidParamException.class, () -> new ProtoClipLoss(defaults(),
                    TestContext.builder().optTowers(towers, 4).build())).key());
        }
        assertEquals("memory_size", assertThrows(InvalidParamException.class,
                () -> new ProtoClipLoss.Params(0.07, 0.07, true, 100, 0.01, 64, 32, 100, 20, 3, 1, 1, true)).key());
        assertEquals("prototypes", assertThrows(InvalidParamException.class,
                () -> new ProtoClipLoss.Params(0.07, 0.07, true, 100, 0.01, 0, 32, 100, 20, 3, 1, 1, true)).key());
        assertEquals("teacher_temperature", assertThrows(InvalidParamException.class,
                () -> new ProtoClipLoss.Params(0.07, 0.07, true, 100, 0, 64, 2048, 100, 20, 3, 1, 1, true)).key());
        assertEquals("proto_temperature", assertThrows(InvalidParamException.class,
                () -> new ProtoClipLoss.Params(0.07, 0.001, true, 100, 0.01, 64, 2048, 100, 20, 3, 1, 1, true)).key());
        assertEquals("recluster_every", assertThrows(InvalidParamException.class,
                () -> new ProtoClipLoss.Params(0.07, 0.07, true, 100, 0.01, 64, 2048, 0, 20, 3, 1, 1, true)).key());
        assertEquals("kmeans_restarts", assertThrows(InvalidParamException.class,
                () -> new ProtoClipLoss.Params(0.07, 0.07, true, 100, 0.01, 64, 2048, 100, 20, 0, 1, 1, true)).key());
        assertEquals("proto_weight", assertThrows(InvalidParamException.class,
                () -> new ProtoClipLoss.Params(0.07, 0.07, true, 100, 0.01, 64, 2048, 100, 20, 3, 1, -1, true)).key());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("protoclip")).findFirst().orElseThrow();
        assertInstanceOf(ProtoClipPlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals(List.of("protoclip"), plugin.losses().stream().map(f -> f.name()).toList());
    }

    private static ProtoClipLoss.Params small(boolean backTranslation) {
        return new ProtoClipLoss.Params(0.07, 0.07, true, 100, 0.01, 2, 8, 2, 20, 3, 1.0, 1.0, backTranslation);
    }

    /**
     * {@code steps} batches of 4 pairs [batch][tower][row][dim]: rows 0 and 2 from group 0 (image near e0,
     * caption near e2), rows 1 and 3 from group 1 (e1, e3), with noise 0.05.
     */
    private static float[][][][] twoGroupBatches(int steps, long seed) {
        Random random = new Random(seed);
        float[][][][] batches = new float[steps][2][4][4];
        for (int s = 0; s < steps; s++) {
            for (int i = 0; i < 4; i++) {
                int group = i % 2;
                for (int j = 0; j < 4; j++) {
                    batches[s][0][i][j] = (float) ((j == group ? 1 : 0) + 0.05 * random.nextGaussian());
                    batches[s][1][i][j] = (float) ((j == group + 2 ? 1 : 0) + 0.05 * random.nextGaussian());
                }
            }
        }
        return batches;
    }

    /** The mean of the L2-normalised rows of one tower (0 images, 1 texts) and group, over all batches. */
    private static double[] groupMean(float[][][][] batches, int tower, int group) {
        double[] sum = new double[4];
        int count = 0;
        for (float[][][] batch : batches) {
            for (int i = group; i < 4; i += 2) {
                float[] row = batch[tower][i];
                double norm = 0;
                for (float x : row) {
                    norm += x * x;
                }
                norm = Math.sqrt(norm);
                for (int j = 0; j < 4; j++) {
                    sum[j] += row[j] / norm;
                }
                count++;
            }
        }
        for (int j = 0; j < 4; j++) {
            sum[j] /= count;
        }
        return sum;
    }

    private ProtoClipLoss newLoss(ProtoClipLoss.Params params, long seed) {
        return (ProtoClipLoss) LossFixtures.newLoss(ProtoClipPlugin.PROTOCLIP, params,
                TestContext.builder().optSeed(seed).optTowers(TOWERS, 4).build(), manager);
    }

    private static EncodedBatch batch(NDManager step, float[][][] pairs) {
        return LossFixtures.batch(TOWERS, step.create(pairs[0]), step.create(pairs[1]));
    }
}
