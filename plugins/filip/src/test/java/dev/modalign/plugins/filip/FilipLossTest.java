package dev.modalign.plugins.filip;

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

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * FilipLoss against reference values that plugins/filip/src/test/python/make_reference.py computed with
 * numpy in float64 (hand-derived gradients, checked there against finite differences); the token-wise
 * similarity on a case worked by hand; padding that changes nothing; and its parameters and errors.
 */
class FilipLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("image", "text");

    /** One case of filip_reference.json: tokens [B, T, D] and masks [B, T], float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            double maxLogitScale,
            double logitScale,
            double[][][] a,
            double[][] maskA,
            double[][][] b,
            double[][] maskB,
            double[][] similarityAb,
            double[][] similarityBa,
            double loss,
            double[][][] gradA,
            double[][][] gradB,
            double gradLogitScale) {}

    static Stream<Arguments> referenceCases() {
        // Every case with a learned scale; with a fixed one too, except the case whose scale is above the cap.
        return withFlag(cases("/filip_reference.json", ReferenceCase.class), ReferenceCase::name,
                c -> c.logitScale() <= Math.log(c.maxLogitScale()));
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, boolean learnable) {
        Loss loss = newLoss(new FilipLoss.Params(reference.temperature(), learnable, reference.maxLogitScale()));
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.logitScale()});
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            EncodedBatch batch = batch(a, array(step, reference.maskA()), b, array(step, reference.maskB()));
            LossOutput output = computeWithGradients(loss, batch, step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.gradA(), a.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the first tower's tokens");
            assertMatches(reference.gradB(), b.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the second tower's tokens");
            if (learnable) {
                assertMatches(reference.gradLogitScale(), loss.parameters().get(0).getArray().getGradient(),
                        REFERENCE_TOLERANCE, reference.name() + " gradient with respect to logit_scale");
            }
        }
    }

    static Stream<org.junit.jupiter.api.Named<ReferenceCase>> similarityCases() {
        return cases("/filip_reference.json", ReferenceCase.class).stream()
                .map(c -> org.junit.jupiter.api.Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("similarityCases")
    void theTokenwiseSimilaritiesMatchTheReference(ReferenceCase reference) {
        try (NDManager step = manager.newSubManager()) {
            NDArray a = dev.modalign.api.Scalars.normalise(array(step, reference.a()), 2);
            NDArray b = dev.modalign.api.Scalars.normalise(array(step, reference.b()), 2);
            NDArray maskA = array(step, reference.maskA());
            NDArray maskB = array(step, reference.maskB());
            TokenwiseSimilarity.BothDirections both = TokenwiseSimilarity.both(a, maskA, b, maskB);
            assertMatches(reference.similarityAb(), both.firstToSecond(), REFERENCE_TOLERANCE, "s_ab");
            // The reference's s_ba[j, i] is text j against image i; secondToFirst[i, j] is the same number.
            assertMatches(reference.similarityBa(), both.secondToFirst().transpose(), REFERENCE_TOLERANCE, "s_ba");
            assertMatches(reference.similarityAb(), TokenwiseSimilarity.queryToGallery(a, maskA, b, maskB),
                    REFERENCE_TOLERANCE, "query a against gallery b");
            assertMatches(reference.similarityBa(), TokenwiseSimilarity.queryToGallery(b, maskB, a, maskA),
                    REFERENCE_TOLERANCE, "query b against gallery a");
        }
    }

    /**
     * Worked by hand. a_0 = {(1,0), (0,1), (-1,0)}; a_1 = {(0,1)} and two padded tokens (1,0);
     * b_0 = {(1,0), (.6,.8)} and a padded (0,1); b_1 = {(-.6,.8)} and two padded (1,0). Then
     * s(a_0 -&gt; b_0) = (1 + .8 + -.6) / 3 = .4 (the padded (0,1) would have made the second 1),
     * s(a_0 -&gt; b_1) = (-.6 + .8 + .6) / 3, s(a_1 -&gt; b_0) = .8, s(a_1 -&gt; b_1) = .8;
     * s(b_0 -&gt; a_0) = (1 + .8) / 2 = .9, s(b_0 -&gt; a_1) = (0 + .8) / 2 = .4 (not 1: a_1's padded (1,0)
     * is not matched), s(b_1 -&gt; a_0) = .8, s(b_1 -&gt; a_1) = .8.
     */
    @Test
    void tokenwiseSimilarityOfASmallCaseWorkedByHand() {
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.create(new float[] {1, 0, 0, 1, -1, 0, 0, 1, 1, 0, 1, 0}, new Shape(2, 3, 2));
            NDArray maskA = step.create(new float[] {1, 1, 1, 1, 0, 0}, new Shape(2, 3));
            NDArray b = step.create(new float[] {1, 0, .6f, .8f, 0, 1, -.6f, .8f, 1, 0, 1, 0}, new Shape(2, 3, 2));
            NDArray maskB = step.create(new float[] {1, 1, 0, 1, 0, 0}, new Shape(2, 3));
            TokenwiseSimilarity.BothDirections both = TokenwiseSimilarity.both(a, maskA, b, maskB);
            Tensors.assertClose(new float[] {.4f, .8f / 3, .8f, .8f}, both.firstToSecond().toFloatArray(), 1e-6,
                    "s(a_i -> b_j)");
            Tensors.assertClose(new float[] {.9f, .8f, .4f, .8f}, both.secondToFirst().toFloatArray(), 1e-6,
                    "s(b_j -> a_i) at [i, j]");
        }
    }

    @Test
    void paddedTokensChangeNeitherTheLossNorTheGradientsOfRealTokens() {
        Loss loss = newLoss(new FilipLoss.Params(0.07, true, 100));
        float[] maskValues = {1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0};
        float[][] gradients = new float[2][];
        float[] values = new float[2];
        for (int trial = 0; trial < 2; trial++) {
            try (NDManager step = manager.newSubManager()) {
                ai.djl.engine.Engine.getInstance().setRandomSeed(5);
                NDArray image = step.randomNormal(new Shape(4, 3, 8));
                NDArray text = step.randomNormal(new Shape(4, 4, 8));
                NDArray mask = step.create(maskValues, new Shape(4, 4));
                if (trial == 1) {
                    // Padded words become huge copies of image 0's first patch: they would win every max.
                    NDArray decoy = image.get(new NDIndex("0, 0")).mul(50f);
                    text = text.mul(mask.expandDims(2)).add(mask.neg().add(1f).expandDims(2).mul(decoy));
                }
                image.setRequiresGradient(true);
                text.setRequiresGradient(true);
                LossOutput output = computeWithGradients(loss, batch(image, null, text, mask), step(step));
                values[trial] = output.value().getFloat();
                gradients[trial] = text.getGradient().mul(mask.expandDims(2)).toFloatArray();
                Tensors.assertClose(new float[4 * 4 * 8], text.getGradient().mul(mask.neg().add(1f).expandDims(2))
                        .toFloatArray(), 0, "padded tokens get no gradient");
                if (trial == 0) {
                    gradients[0] = concat(gradients[0], image.getGradient().toFloatArray());
                } else {
                    gradients[1] = concat(gradients[1], image.getGradient().toFloatArray());
                }
            }
        }
        assertEquals(values[0], values[1], 0f, "the loss changed with the padded tokens' features");
        Tensors.assertClose(gradients[0], gradients[1], 0, "gradients of the real tokens");
    }

    @Test
    void matchedTokensCostLittleAndScoreFullAccuracy() {
        Loss loss = newLoss(new FilipLoss.Params(0.07, false, 100));
        try (NDManager step = manager.newSubManager()) {
            // Record i's tokens are the basis vectors 2i and 2i + 1 on both sides, in another order.
            float[] image = new float[4 * 2 * 8];
            float[] text = new float[4 * 2 * 8];
            for (int i = 0; i < 4; i++) {
                image[(i * 2) * 8 + 2 * i] = 1;
                image[(i * 2 + 1) * 8 + 2 * i + 1] = 1;
                text[(i * 2) * 8 + 2 * i + 1] = 3;
                text[(i * 2 + 1) * 8 + 2 * i] = 2;
            }
            LossOutput output = loss.compute(batch(step.create(image, new Shape(4, 2, 8)), null,
                    step.create(text, new Shape(4, 2, 8)), null), step(step));
            // Own record: similarity 1; others: 0. Each row: -log(e^(1/0.07) / (e^(1/0.07) + 3)).
            double expected = Math.log1p(3 * Math.exp(-1 / 0.07));
            assertEquals(expected, output.value().getFloat(), 1e-6);
            assertEquals(1f, output.metrics().get("accuracy").getFloat());
            assertEquals(0.07f, output.metrics().get("temperature").getFloat(), 1e-6);
        }
    }

    @Test
    void aTowerWithoutTokenFeaturesIsNamed() {
        Loss loss = newLoss(new FilipLoss.Params(0.07, true, 100));
        try (NDManager step = manager.newSubManager()) {
            NDArray tokens = step.randomNormal(new Shape(2, 3, 4));
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            towers.put("image", new TowerOutput(step.randomNormal(new Shape(2, 4))));
            towers.put("text", new TowerOutput(step.randomNormal(new Shape(2, 4)), tokens, null));
            IllegalStateException error = assertThrows(IllegalStateException.class,
                    () -> loss.compute(new EncodedBatch(towers, null), step(step)));
            assertTrue(error.getMessage().contains("tower 'image' gives none"), error.getMessage());
        }
    }

    @Test
    void learnableTemperatureIsClippedAfterAStep() {
        Loss loss = newLoss(new FilipLoss.Params(0.07, true, 100));
        loss.parameters().get(0).getArray().set(new float[] {10f});
        loss.afterStep(null, null);
        assertEquals((float) Math.log(100), loss.parameters().get(0).getArray().getFloat(), 1e-6);
        assertEquals(List.of(), newLoss(new FilipLoss.Params(0.07, false, 100)).parameters());
    }

    @Test
    void rejectsBadParametersAndTowersByKey() {
        assertEquals("temperature", assertThrows(InvalidParamException.class,
                () -> new FilipLoss.Params(0, true, 100)).key());
        assertEquals("temperature", assertThrows(InvalidParamException.class,
                () -> new FilipLoss.Params(0.001, true, 100)).key());
        assertEquals("max_logit_scale", assertThrows(InvalidParamException.class,
                () -> new FilipLoss.Params(0.07, true, Double.NaN)).key());
        FilipLoss.Params params = new FilipLoss.Params(0.07, true, 100);
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> new FilipLoss(params,
                TestContext.builder().optTowers(List.of("image"), 4).build())).key());
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> new FilipLoss(params,
                TestContext.builder().optTowers(List.of("image", "image"), 4).build())).key());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsComponents() {
        Plugin filip = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("filip")).findFirst().orElseThrow();
        assertInstanceOf(FilipPlugin.class, filip);
        assertEquals(ModalignApi.VERSION, filip.apiVersion());
        assertTrue(filip.losses().stream().anyMatch(f -> f.name().equals("filip")
                && f.description().contains("Fine-grained Interactive Language-Image Pre-Training")));
        assertTrue(filip.evaluators().stream().anyMatch(f -> f.name().equals("filip-retrieval")));
    }

    private Loss newLoss(FilipLoss.Params params) {
        return LossFixtures.newLoss(FilipPlugin.FILIP, params, TestContext.builder().optTowers(TOWERS, 8).build(),
                manager);
    }

    /** A batch whose towers carry only token features (their embeddings are the tokens' means, unused). */
    private static EncodedBatch batch(NDArray image, NDArray imageMask, NDArray text, NDArray textMask) {
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        towers.put("image", new TowerOutput(image.mean(new int[] {1}), image, imageMask));
        towers.put("text", new TowerOutput(text.mean(new int[] {1}), text, textMask));
        return new EncodedBatch(towers, null);
    }

    private static float[] concat(float[] first, float[] second) {
        float[] joined = java.util.Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, joined, first.length, second.length);
        return joined;
    }
}
