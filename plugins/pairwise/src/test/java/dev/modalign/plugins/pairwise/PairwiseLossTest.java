package dev.modalign.plugins.pairwise;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.relativeError;
import static dev.modalign.testkit.ReferenceVectors.withFlag;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.modalign.api.ComponentContext;
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
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * PairwiseLoss against reference values that plugins/pairwise/src/test/python/make_reference.py
 * computed with numpy in float64 (hand-derived gradients, checked there against finite differences),
 * and its pair weights, metrics and errors.
 */
class PairwiseLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final System.Logger LOG = System.getLogger(PairwiseLossTest.class.getName());

    /** One case of pairwise_reference.json; embeddings are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            List<String> towers,
            double temperature,
            double maxLogitScale,
            double logitScale,
            List<Double> pairWeights,
            double[][][] embeddings,
            double loss,
            double[] pairLosses,
            double[][][] grads,
            double gradLogitScale) {}

    static Stream<Arguments> referenceCases() {
        return withFlag(cases("/pairwise_reference.json", ReferenceCase.class), ReferenceCase::name,
                c -> c.logitScale() <= Math.log(c.maxLogitScale()));
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, boolean learnable) {
        Loss loss = newLoss(new PairwiseLoss.Params(reference.temperature(), learnable, reference.maxLogitScale(),
                Map.of(), reference.pairWeights()), reference.towers());
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.logitScale()});
        }
        try (NDManager step = manager.newSubManager()) {
            List<NDArray> embeddings = new ArrayList<>();
            for (double[][] rows : reference.embeddings()) {
                NDArray embedding = array(step, rows);
                embedding.setRequiresGradient(true);
                embeddings.add(embedding);
            }
            LossOutput output = computeWithGradients(loss, batch(reference.towers(), embeddings, null), step(step));
            double valueError = relativeError(reference.loss(), output.value());
            double gradientError = 0;
            for (int k = 0; k < embeddings.size(); k++) {
                gradientError = Math.max(gradientError,
                        relativeError(reference.grads()[k], embeddings.get(k).getGradient()));
            }
            if (learnable) {
                gradientError = Math.max(gradientError,
                        relativeError(reference.gradLogitScale(), loss.parameters().get(0).getArray().getGradient()));
            }
            LOG.log(System.Logger.Level.INFO, String.format("pairwise reference %s (learnable=%s): max relative error"
                    + " value %.3g, gradients %.3g", reference.name(), learnable, valueError, gradientError));
            assertTrue(valueError <= REFERENCE_TOLERANCE, reference.name() + ": loss off by " + valueError
                    + " (relative): expected " + reference.loss() + ", found " + output.value().getFloat());
            double tolerance = gradientTolerance(reference.logitScale(), reference.maxLogitScale());
            assertTrue(gradientError <= tolerance, reference.name() + ": gradients off by " + gradientError
                    + " (relative), more than " + tolerance);
            List<PairwiseLoss.Pair> pairs = ((PairwiseLoss) loss).pairs();
            for (int p = 0; p < pairs.size(); p++) {
                NDArray pairLoss = output.metrics().get("loss/" + pairs.get(p).name());
                assertTrue(relativeError(reference.pairLosses()[p], pairLoss) <= REFERENCE_TOLERANCE, reference.name()
                        + ": pair " + pairs.get(p).name() + " loss " + pairLoss.getFloat() + ", expected "
                        + reference.pairLosses()[p]);
            }
        }
    }

    @Test
    void pairsComeInTheOrderTheTowersAreNamedWithWeightsByNameOrList() {
        List<String> towers = List.of("image", "text", "audio");
        PairwiseLoss byName = (PairwiseLoss) newLoss(params(Map.of("audio-image", 0.5, "text-audio", 0.0), List.of()),
                towers);
        assertEquals(List.of("image-text", "image-audio", "text-audio"),
                byName.pairs().stream().map(PairwiseLoss.Pair::name).toList());
        assertEquals(List.of(1.0, 0.5, 0.0), byName.pairs().stream().map(PairwiseLoss.Pair::weight).toList());
        PairwiseLoss byList = (PairwiseLoss) newLoss(params(Map.of(), List.of(0.25, 1.0, 2.0)), towers);
        assertEquals(List.of(0.25, 1.0, 2.0), byList.pairs().stream().map(PairwiseLoss.Pair::weight).toList());
    }

    @Test
    void theLossIsTheWeightedSumOfThePairLossesItLogs() {
        List<String> towers = List.of("a", "b", "c");
        Loss loss = newLoss(params(Map.of("a-c", 0.5, "b-c", 3.0), List.of()), towers);
        try (NDManager step = manager.newSubManager()) {
            Engine.getInstance().setRandomSeed(5);
            List<NDArray> embeddings = List.of(step.randomNormal(new Shape(6, 4)),
                    step.randomNormal(new Shape(6, 4)),
                    step.randomNormal(new Shape(6, 4)));
            LossOutput output = loss.compute(batch(towers, embeddings, null), step(step));
            float ab = output.metrics().get("loss/a-b").getFloat();
            float ac = output.metrics().get("loss/a-c").getFloat();
            float bc = output.metrics().get("loss/b-c").getFloat();
            assertEquals(ab + 0.5 * ac + 3.0 * bc, output.value().getFloat(), 1e-5);
            assertEquals(0.07, output.metrics().get("temperature").getFloat(), 1e-6);
        }
    }

    @Test
    void learnableTemperatureIsOneSharedLogitScale() {
        Loss loss = newLoss(params(Map.of(), List.of()), List.of("a", "b", "c"));
        assertEquals(1, loss.parameters().size());
        Parameter parameter = loss.parameters().get(0);
        assertEquals("logit_scale", parameter.getName());
        assertEquals(Math.log(1 / 0.07), parameter.getArray().getFloat(), 1e-6);
        NDArray array = parameter.getArray();
        array.set(new float[] {(float) Math.log(1000)});
        try (NDManager step = manager.newSubManager()) {
            loss.afterStep(batch(List.of("a", "b", "c"), step.eye(2), step.eye(2), step.eye(2)), step(step));
        }
        assertEquals((float) Math.log(100), array.getFloat(), "afterStep clips the scale to log(max_logit_scale)");
    }

    @Test
    void failsClearlyWithFewerThanTwoTowersOrARepeatedOne() {
        InvalidParamException one = assertThrows(InvalidParamException.class,
                () -> newLoss(params(Map.of(), List.of()), List.of("image")));
        assertEquals("towers", one.key());
        assertTrue(one.getMessage().startsWith("pairwise contrasts every pair of at least two towers, found [image]"),
                one.getMessage());
        InvalidParamException none = assertThrows(InvalidParamException.class,
                () -> newLoss(params(Map.of(), List.of()), List.of()));
        assertEquals("towers", none.key());
        InvalidParamException twice = assertThrows(InvalidParamException.class,
                () -> newLoss(params(Map.of(), List.of()), List.of("image", "text", "image")));
        assertTrue(twice.getMessage().contains("'image' twice"), twice.getMessage());
    }

    @Test
    void rejectsTowersOfDifferentEmbeddingSizes() {
        ComponentContext context = TestContext.builder().optTowers(List.of("image", "text", "audio"), 128)
                .optEmbedDims(Map.of("audio", 64)).build();
        InvalidParamException error = assertThrows(InvalidParamException.class,
                () -> new PairwiseLoss(params(Map.of(), List.of()), context));
        assertEquals("towers", error.key());
        assertTrue(error.getMessage().contains("'image' embeds in 128 dimensions and 'audio' in 64"), error.getMessage());
    }

    @Test
    void rejectsWeightsThatNameNoPairOrMiscount() {
        List<String> towers = List.of("image", "text", "audio");
        InvalidParamException unknown = assertThrows(InvalidParamException.class,
                () -> newLoss(params(Map.of("image-video", 1.0), List.of()), towers));
        assertEquals("weights.image-video", unknown.key());
        assertTrue(unknown.getMessage().contains("the pairs are image-text, image-audio, text-audio"),
                unknown.getMessage());
        InvalidParamException count = assertThrows(InvalidParamException.class,
                () -> newLoss(params(Map.of(), List.of(1.0, 2.0)), towers));
        assertEquals("pair_weights", count.key());
        assertTrue(count.getMessage().contains("has 2 weights but 3 towers make 3 pairs"), count.getMessage());
        InvalidParamException allZero = assertThrows(InvalidParamException.class,
                () -> newLoss(params(Map.of(), List.of(0.0, 0.0, 0.0)), towers));
        assertEquals("weights", allZero.key());
        InvalidParamException ambiguous = assertThrows(InvalidParamException.class,
                () -> newLoss(params(Map.of("a-b-c", 1.0), List.of()), List.of("a-b", "c", "a", "b-c")));
        assertTrue(ambiguous.getMessage().contains("names two pairs"), ambiguous.getMessage());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        assertEquals("weights.a-b", assertThrows(InvalidParamException.class,
                () -> params(Map.of("a-b", -1.0), List.of())).key());
        assertEquals("pair_weights[1]", assertThrows(InvalidParamException.class,
                () -> params(Map.of(), List.of(1.0, Double.NaN))).key());
        assertEquals("pair_weights", assertThrows(InvalidParamException.class,
                () -> params(Map.of("a-b", 1.0), List.of(1.0))).key());
        assertEquals("temperature", assertThrows(InvalidParamException.class,
                () -> new PairwiseLoss.Params(0, true, 100, Map.of(), List.of())).key());
        assertEquals("temperature", assertThrows(InvalidParamException.class,
                () -> new PairwiseLoss.Params(0.001, true, 100, Map.of(), List.of())).key());
        assertEquals("max_logit_scale", assertThrows(InvalidParamException.class,
                () -> new PairwiseLoss.Params(0.07, true, -1, Map.of(), List.of())).key());
    }

    @Test
    void pluginIsFoundByServiceLoader() {
        Plugin pairwise = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("pairwise")).findFirst().orElseThrow();
        assertInstanceOf(PairwisePlugin.class, pairwise);
        assertEquals(ModalignApi.VERSION, pairwise.apiVersion());
        assertEquals(List.of("pairwise"), pairwise.losses().stream().map(f -> f.name()).toList());
    }

    private static PairwiseLoss.Params params(Map<String, Double> weights, List<Double> pairWeights) {
        return new PairwiseLoss.Params(0.07, true, 100, weights, pairWeights);
    }

    private Loss newLoss(PairwiseLoss.Params params, List<String> towers) {
        return LossFixtures.newLoss(PairwisePlugin.PAIRWISE, params, context(towers), manager);
    }

    private static ComponentContext context(List<String> towers) {
        return TestContext.builder().optTowers(towers, 4).build();
    }

    /**
     * 1e-5, widened in proportion to a logit scale above 100: the Java loss runs in float32, whose cosines
     * carry a rounding error of about 6e-8, and the scale multiplies it into every logit and so into the
     * softmax behind each gradient (at scale 1000 that is 6e-5 of a logit). The value is held to 1e-5 in
     * every case.
     */
    static double gradientTolerance(double logitScale, double maxLogitScale) {
        double scale = Math.exp(Math.min(logitScale, Math.log(maxLogitScale)));
        return REFERENCE_TOLERANCE * Math.max(1, scale / 100);
    }
}
