package dev.modalign.plugins.c3;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.flatten;
import static dev.modalign.testkit.ReferenceVectors.floats;
import static dev.modalign.testkit.ReferenceVectors.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.StepContext;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * C3Loss against reference values that plugins/c3/src/test/python/make_reference.py computed with
 * numpy in float64 (hand-derived gradients, checked there against finite differences), and its noise,
 * running mean, metric and errors.
 */
class C3LossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final System.Logger LOG = System.getLogger(C3LossTest.class.getName());
    private static final List<String> TOWERS = List.of("image", "text");

    /** One case of c3_reference.json; arrays are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            double noiseStd,
            String centring,
            double[][] a,
            double[][] b,
            double[][] noiseA,
            double[][] noiseB,
            double[] runningMeanA,
            double[] runningMeanB,
            double loss,
            double modalityGap,
            double[][] gradA,
            double[][] gradB) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/c3_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        C3Loss loss = newLoss(new C3Loss.Params(reference.temperature(), reference.noiseStd(),
                C3Loss.Centring.valueOf(reference.centring().toUpperCase(Locale.ROOT)), 0.99));
        if (reference.runningMeanA() != null) {
            loss.setRunningMeans(floats(reference.runningMeanA()), floats(reference.runningMeanB()));
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            float[] noiseA = reference.noiseA() == null ? null : floats(flatten(reference.noiseA()));
            float[] noiseB = reference.noiseB() == null ? null : floats(flatten(reference.noiseB()));
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch(TOWERS, a, b), step, noiseA, noiseB);
                collector.backward(output.value());
            }
            double valueError = relativeError(reference.loss(), output.value());
            double gradientError = Math.max(relativeError(reference.gradA(), a.getGradient()),
                    relativeError(reference.gradB(), b.getGradient()));
            double gapError = relativeError(reference.modalityGap(), output.metrics().get("modality_gap"));
            LOG.log(System.Logger.Level.INFO, String.format("c3 reference %s: max relative error value %.3g,"
                    + " gradients %.3g, modality gap %.3g", reference.name(), valueError, gradientError, gapError));
            assertTrue(valueError <= REFERENCE_TOLERANCE, reference.name() + ": loss off by " + valueError
                    + ": expected " + reference.loss() + ", found " + output.value().getFloat());
            assertTrue(gapError <= REFERENCE_TOLERANCE, reference.name() + ": modality gap off by " + gapError);
            double tolerance = gradientTolerance(reference.temperature());
            assertTrue(gradientError <= tolerance, reference.name() + ": gradients off by " + gradientError
                    + " (relative), more than " + tolerance);
        }
    }

    /**
     * The public path with noise_std 0 (the reference vectors' setting) is the noise-free loss, and with
     * noise it draws exactly standardNormal(rng, B * D) for each tower in turn from the step's generator.
     */
    @Test
    void theStepsGeneratorFeedsTheNoiseAndStdZeroIsNoiseFree() {
        try (NDManager step = manager.newSubManager()) {
            EncodedBatch batch = randomBatch(step, 6, 5, 1);
            float withoutNoise = newLoss(params(0.0, C3Loss.Centring.BATCH)).compute(batch, step, null, null)
                    .value().getFloat();
            assertEquals(withoutNoise, newLoss(params(0.0, C3Loss.Centring.BATCH))
                    .compute(batch, stepContext(step, 9, true)).value().getFloat(), 0f);

            C3Loss noisy = newLoss(params(0.3, C3Loss.Centring.BATCH));
            float drawn = noisy.compute(batch, stepContext(step, 9, true)).value().getFloat();
            Random rng = new Random(9);
            float[] first = C3Loss.standardNormal(rng, 30);
            float[] second = C3Loss.standardNormal(rng, 30);
            assertEquals(noisy.compute(batch, step, first, second).value().getFloat(), drawn, 0f);
            assertNotEquals(withoutNoise, drawn, "noise of std 0.3 changes the loss");
            assertEquals(drawn, noisy.compute(batch, stepContext(step, 9, true)).value().getFloat(), 0f,
                    "the same seed gives the same noise");
            assertNotEquals(drawn, noisy.compute(batch, stepContext(step, 10, true)).value().getFloat(),
                    "another seed gives other noise");
            assertEquals(withoutNoise, noisy.compute(batch, stepContext(step, 9, false)).value().getFloat(), 0f,
                    "evaluation (training false) adds no noise");
        }
    }

    @Test
    void theCorruptStepAddsNoiseOfTheStatedStandardDeviation() {
        for (double std : new double[] {0.1265, 0.5}) {
            C3Loss loss = newLoss(params(std, C3Loss.Centring.BATCH));
            try (NDManager step = manager.newSubManager()) {
                int rows = 400;
                int columns = 250;
                NDArray centred = step.full(new Shape(rows, columns), 0.25f);
                float[] draws = C3Loss.standardNormal(new Random(42), rows * columns);
                float[] noise = loss.corrupt(centred, draws, step).sub(0.25f).toFloatArray();
                double mean = Arrays.stream(toDouble(noise)).average().orElseThrow();
                double variance = Arrays.stream(toDouble(noise)).map(x -> (x - mean) * (x - mean)).sum()
                        / (noise.length - 1);
                // 100000 draws: the sample std is within 3 * std / sqrt(2n) ~ 0.7% of std, the mean within
                // 3 * std / sqrt(n) ~ 0.01 std.
                assertEquals(std, Math.sqrt(variance), 0.01 * std, "sample std of the added noise");
                assertEquals(0, mean, 0.01 * std, "sample mean of the added noise");
            }
        }
    }

    @Test
    void runningMeansFollowTheNormalisedEmbeddingsWithMomentum() {
        C3Loss loss = newLoss(new C3Loss.Params(0.07, 0.0, C3Loss.Centring.RUNNING, 0.9));
        try (NDManager step = manager.newSubManager()) {
            EncodedBatch first = batch(TOWERS, step.create(new float[][] {{3, 0}, {0, 2}}),
                    step.create(new float[][] {{0, 5}, {0, 1}}));
            EncodedBatch second = batch(TOWERS, step.create(new float[][] {{1, 0}, {1, 0}}),
                    step.create(new float[][] {{-4, 0}, {0, -1}}));
            assertNull(loss.runningMean(0));
            // Before any step the batch mean stands in, detached: the same value as batch centring.
            assertEquals(newLoss(params(0.0, C3Loss.Centring.BATCH)).compute(first, step, null, null).value().getFloat(),
                    loss.compute(first, step, null, null).value().getFloat(), 1e-6);
            loss.afterStep(first, stepContext(step, 0, true));
            assertArrayEquals(new float[] {0.5f, 0.5f}, loss.runningMean(0), 1e-6f);
            assertArrayEquals(new float[] {0f, 1f}, loss.runningMean(1), 1e-6f);
            loss.afterStep(second, stepContext(step, 1, true));
            assertArrayEquals(new float[] {0.9f * 0.5f + 0.1f, 0.9f * 0.5f}, loss.runningMean(0), 1e-6f);
            assertArrayEquals(new float[] {-0.05f, 0.9f - 0.05f}, loss.runningMean(1), 1e-6f);
        }
        C3Loss batchCentred = newLoss(params(0.0, C3Loss.Centring.BATCH));
        try (NDManager step = manager.newSubManager()) {
            batchCentred.afterStep(batch(TOWERS, step.eye(2), step.eye(2)), stepContext(step, 0, true));
            assertNull(batchCentred.runningMean(0), "batch centring keeps no state");
        }
    }

    @Test
    void modalityGapIsTheDistanceOfTheCentroidsAndHasNoGradient() {
        C3Loss loss = newLoss(params(0.1265, C3Loss.Centring.BATCH));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.create(new float[][] {{2, 0}, {5, 0}});
            NDArray b = step.create(new float[][] {{0, 1}, {0, 3}});
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                LossOutput output = loss.compute(batch(TOWERS, a, b), stepContext(step, 1, true));
                assertEquals(Math.sqrt(2), output.metrics().get("modality_gap").getFloat(), 1e-6);
                assertEquals(List.of("modality_gap"), List.copyOf(output.metrics().keySet()));
                assertThrows(EngineException.class, () -> collector.backward(output.metrics().get("modality_gap")),
                        "the metric must be detached from the graph");
            }
        }
    }

    @Test
    void rejectsAnythingButTwoTowersOfOneSize() {
        for (List<String> towers : List.of(List.of("image"), List.of("image", "text", "audio"), List.of("a", "a"))) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> new C3Loss(params(0.1, C3Loss.Centring.BATCH), TestContext.builder().optTowers(towers, 4).build()));
            assertEquals("towers", error.key());
        }
        ComponentContext sizes = TestContext.builder().optTowers(TOWERS).optEmbedDims(Map.of("image", 128, "text", 64))
                .build();
        InvalidParamException error = assertThrows(InvalidParamException.class,
                () -> new C3Loss(params(0.1, C3Loss.Centring.BATCH), sizes));
        assertTrue(error.getMessage().contains("'image' embeds in 128 dimensions and 'text' in 64"), error.getMessage());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        assertEquals("temperature", assertThrows(InvalidParamException.class,
                () -> new C3Loss.Params(0, 0.1, C3Loss.Centring.BATCH, 0.99)).key());
        assertEquals("noise_std", assertThrows(InvalidParamException.class,
                () -> new C3Loss.Params(0.07, -0.1, C3Loss.Centring.BATCH, 0.99)).key());
        assertEquals("noise_std", assertThrows(InvalidParamException.class,
                () -> new C3Loss.Params(0.07, Double.NaN, C3Loss.Centring.BATCH, 0.99)).key());
        assertEquals("centring", assertThrows(InvalidParamException.class,
                () -> new C3Loss.Params(0.07, 0.1, null, 0.99)).key());
        for (double momentum : new double[] {1, -0.1, Double.NaN}) {
            assertEquals("momentum", assertThrows(InvalidParamException.class,
                    () -> new C3Loss.Params(0.07, 0.1, C3Loss.Centring.RUNNING, momentum)).key());
        }
    }

    @Test
    void pluginIsFoundByServiceLoader() {
        Plugin c3 = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("c3")).findFirst().orElseThrow();
        assertInstanceOf(C3Plugin.class, c3);
        assertEquals(ModalignApi.VERSION, c3.apiVersion());
        assertEquals(List.of("c3"), c3.losses().stream().map(f -> f.name()).toList());
    }

    /** 1e-5, widened in proportion to a logit scale 1 / temperature above 100 (see PairwiseLossTest). */
    private static double gradientTolerance(double temperature) {
        return REFERENCE_TOLERANCE * Math.max(1, 1 / temperature / 100);
    }

    private static C3Loss.Params params(double noiseStd, C3Loss.Centring centring) {
        return new C3Loss.Params(0.07, noiseStd, centring, 0.99);
    }

    private static C3Loss newLoss(C3Loss.Params params) {
        return (C3Loss) C3Plugin.C3.create(params, TestContext.builder().optTowers(TOWERS, 4).build());
    }

    private static EncodedBatch randomBatch(NDManager step, int batchSize, int dim, long seed) {
        Random rng = new Random(seed);
        float[] first = C3Loss.standardNormal(rng, batchSize * dim);
        float[] second = C3Loss.standardNormal(rng, batchSize * dim);
        Shape shape = new Shape(batchSize, dim);
        return batch(TOWERS, step.create(first, shape), step.create(second, shape));
    }

    private static StepContext stepContext(NDManager step, long seed, boolean training) {
        return new StepContext(0, 0, 1, new Random(seed), step, training);
    }

    private static double[] toDouble(float[] values) {
        double[] doubles = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            doubles[i] = values[i];
        }
        return doubles;
    }
}
