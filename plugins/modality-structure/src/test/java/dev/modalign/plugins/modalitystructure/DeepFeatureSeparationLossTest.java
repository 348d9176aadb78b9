package dev.modalign.plugins.modalitystructure;

import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.flatten;
import static dev.modalign.testkit.ReferenceVectors.floats;
import static dev.modalign.testkit.ReferenceVectors.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** DeepFeatureSeparationLoss against deep_feature_separation_reference.json (numpy, float64), its heads and checks. */
class DeepFeatureSeparationLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final System.Logger LOG = System.getLogger(DeepFeatureSeparationLossTest.class.getName());

    /** One tower of a case: its embedding, head, optional tokens and mask, and what the reference expects. */
    record ReferenceTower(double[][] z, double[][] head, double[][][] tokens, double[][] mask, double overlap,
            double[][] gradZ, double[][] gradHead, double[][][] gradTokens) {}

    record ReferenceCase(String name, List<ReferenceTower> towers, double loss) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/deep_feature_separation_reference.json", ReferenceCase.class).stream()
                .map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        List<String> names = new ArrayList<>();
        for (int k = 0; k < reference.towers().size(); k++) {
            names.add("tower" + k);
        }
        int dim = reference.towers().get(0).z()[0].length;
        Loss loss = newLoss(names, dim, 7, true);
        try (NDManager step = manager.newSubManager()) {
            Map<String, TowerOutput> outputs = new LinkedHashMap<>();
            List<NDArray> embeddings = new ArrayList<>();
            List<NDArray> tokens = new ArrayList<>();
            for (int k = 0; k < names.size(); k++) {
                ReferenceTower tower = reference.towers().get(k);
                loss.parameters().get(k).getArray().set(floats(flatten(tower.head())));
                NDArray z = array(step, tower.z());
                z.setRequiresGradient(true);
                embeddings.add(z);
                NDArray tokenArray = null;
                NDArray mask = null;
                if (tower.tokens() != null) {
                    tokenArray = array(step, tower.tokens());
                    tokenArray.setRequiresGradient(true);
                    // The mask as the text modality gives it: int64 ones and zeros.
                    mask = array(step, tower.mask()).toType(DataType.INT64, false);
                }
                tokens.add(tokenArray);
                outputs.put(names.get(k), new TowerOutput(z, tokenArray, mask));
            }
            LossOutput output = computeWithGradients(loss, new EncodedBatch(outputs, null), step(step));
            double valueError = relativeError(reference.loss(), output.value());
            double gradientError = 0;
            for (int k = 0; k < names.size(); k++) {
                ReferenceTower tower = reference.towers().get(k);
                valueError = Math.max(valueError,
                        relativeError(tower.overlap(), output.metrics().get("overlap/" + names.get(k))));
                gradientError = Math.max(gradientError, relativeError(tower.gradZ(), embeddings.get(k).getGradient()));
                gradientError = Math.max(gradientError,
                        relativeError(tower.gradHead(), loss.parameters().get(k).getArray().getGradient()));
                if (tower.tokens() != null) {
                    gradientError = Math.max(gradientError,
                            relativeError(tower.gradTokens(), tokens.get(k).getGradient()));
                }
            }
            LOG.log(System.Logger.Level.INFO, String.format("deep-feature-separation reference %s: max relative error"
                    + " value %.3g, gradients %.3g", reference.name(), valueError, gradientError));
            assertTrue(valueError <= REFERENCE_TOLERANCE, reference.name() + ": value off by " + valueError);
            assertTrue(gradientError <= REFERENCE_TOLERANCE, reference.name() + ": gradients off by " + gradientError);
        }
    }

    @Test
    void eachTowerHasASeededSquareHeadNamedAfterIt() {
        Loss loss = newLoss(List.of("image", "text"), 6, 7, true);
        assertEquals(List.of("specific_head_image", "specific_head_text"),
                loss.parameters().stream().map(Parameter::getName).toList());
        float[] image = loss.parameters().get(0).getArray().toFloatArray();
        assertEquals(36, image.length);
        assertArrayEquals(image, newLoss(List.of("image", "text"), 6, 7, true).parameters().get(0).getArray()
                .toFloatArray(), "the same seed gives the same head");
        assertFalse(Arrays.equals(image, newLoss(List.of("image", "text"), 6, 8, true).parameters().get(0)
                .getArray().toFloatArray()), "another seed gives another head");
        assertFalse(Arrays.equals(image, loss.parameters().get(1).getArray().toFloatArray()),
                "each tower has its own head");
        double sumOfSquares = 0;
        for (float value : image) {
            sumOfSquares += value * value;
        }
        assertTrue(sumOfSquares / 36 < 1.0 / 6 * 2.5, "N(0, 1/D) values, found mean square " + sumOfSquares / 36);
    }

    /**
     * ||Z^T P||^2 / B^2 is DSN's soft subspace orthogonality: zero when, across the batch, no specific feature
     * varies with a shared one. Two records with the same shared embedding (1, 0) and specific features of
     * opposite sign: Z's columns are (1, 1) and (0, 0), P's (1, -1) and (0, 0), and Z^T P = 0. The same
     * specific features for both: P's first column is (1, 1) too, Z^T P has a 2 at (0, 0), and the loss is
     * 2^2 / 2^2 = 1.
     */
    @Test
    void specificFeaturesThatVaryWhereTheSharedOnesDoNotCostNothing() {
        Loss loss = newLoss(List.of("text"), 2, 7, true);
        loss.parameters().get(0).getArray().set(new float[] {1, 0, 0, 1});
        try (NDManager step = manager.newSubManager()) {
            NDArray z = step.create(new float[][] {{1, 0}, {3, 0}});
            NDArray opposite = step.create(new float[] {2, 0, -1, 0}, new Shape(2, 1, 2));
            NDArray same = step.create(new float[] {2, 0, 1, 0}, new Shape(2, 1, 2));
            assertEquals(0f, loss.compute(batch("text", z, opposite, null), step(step)).value().getFloat(), 1e-7f);
            LossOutput output = loss.compute(batch("text", z, same, null), step(step));
            assertEquals(1f, output.value().getFloat(), 1e-6f);
            assertEquals(1f, output.metrics().get("overlap/text").getFloat(), 1e-6f);
        }
    }

    @Test
    void tokensOfAnotherWidthThanTheEmbeddingFailWithTheFix() {
        Loss loss = newLoss(List.of("text"), 4, 7, true);
        try (NDManager step = manager.newSubManager()) {
            NDArray z = step.ones(new Shape(2, 4));
            NDArray tokens = step.ones(new Shape(2, 3, 8));
            IllegalStateException error = assertThrows(IllegalStateException.class,
                    () -> loss.compute(batch("text", z, tokens, step.ones(new Shape(2, 3))),
                            step(step)));
            assertTrue(error.getMessage().contains("set use_tokens: false"), error.getMessage());
            Loss pooled = newLoss(List.of("text"), 4, 7, false);
            assertTrue(Float.isFinite(pooled.compute(batch("text", z, tokens, null), step(step)).value().getFloat()),
                    "use_tokens false reads the embedding");
        }
    }

    @Test
    void rejectsNoTowersOrARepeatedOne() {
        for (List<String> towers : List.of(List.<String>of(), List.of("a", "a"))) {
            InvalidParamException error = assertThrows(InvalidParamException.class, () -> new DeepFeatureSeparationLoss(
                    new DeepFeatureSeparationLoss.Params(true), TestContext.builder().optTowers(towers, 4).build()));
            assertEquals("towers", error.key());
        }
    }

    private Loss newLoss(List<String> towers, int dim, long seed, boolean useTokens) {
        return LossFixtures.newLoss(ModalityStructurePlugin.DEEP_FEATURE_SEPARATION,
                new DeepFeatureSeparationLoss.Params(useTokens),
                TestContext.builder().optSeed(seed).optTowers(towers, dim).build(), manager);
    }

    private static EncodedBatch batch(String tower, NDArray z, NDArray tokens, NDArray mask) {
        return new EncodedBatch(Map.of(tower, new TowerOutput(z, tokens, mask)), null);
    }
}
