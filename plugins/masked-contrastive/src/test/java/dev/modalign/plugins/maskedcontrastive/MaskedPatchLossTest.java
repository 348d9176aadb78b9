package dev.modalign.plugins.maskedcontrastive;

import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.ImageExample;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.ReferenceVectors;
import dev.modalign.testkit.TestContext;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * MaskedPatchLoss against reference values that plugins/masked-contrastive/src/test/python/make_reference.py
 * computed with torch in float64 (which also checks the patch order against torch's unfold); that only masked
 * patches are scored; and that the mask the augmentation draws is the mask the loss finds.
 */
class MaskedPatchLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;

    /** One case of masked_patch_reference.json. */
    record ReferenceCase(String name, int patch, double reconstructionWeight, double[][][][] maskedImages,
            double[][][][] targetImages, double[][][] tokens, double[][] discriminativeWeight,
            double[] discriminativeBias, double[][] generativeWeight, double[] generativeBias, double loss,
            double infonce, double mse, double[][][] gradTokens, double[][] gradDiscriminativeWeight,
            double[] gradDiscriminativeBias, double[][] gradGenerativeWeight, double[] gradGenerativeBias) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/masked_patch_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    static NDArray images(NDManager manager, double[][][][] values) {
        int b = values.length;
        int c = values[0].length;
        int h = values[0][0].length;
        int w = values[0][0][0].length;
        float[] flat = new float[b * c * h * w];
        int i = 0;
        for (double[][][] image : values) {
            for (double[][] plane : image) {
                for (double[] row : plane) {
                    for (double v : row) {
                        flat[i++] = (float) v;
                    }
                }
            }
        }
        return manager.create(flat, new Shape(b, c, h, w));
    }

    /** As the trainer gives it: the masked tower's tokens and input, the target tower's patches as tokens. */
    static EncodedBatch batch(NDManager manager, NDArray tokens, NDArray maskedImages, NDArray targetImages, int patch) {
        long b = tokens.getShape().get(0);
        NDArray targets = Patches.of(targetImages, patch);
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        towers.put("image", new TowerOutput(tokens.mean(new int[] {1}), tokens,
                manager.ones(new Shape(b, tokens.getShape().get(1)))));
        towers.put("target", new TowerOutput(targets.mean(new int[] {1}), targets, null));
        return new EncodedBatch(towers, null, null, Map.of("image", new NDList(maskedImages), "target",
                new NDList(targetImages)));
    }

    private Loss newLoss(MaskedPatchLoss.Params params, int hidden, int patchDim) {
        return LossFixtures.newLoss(MaskedContrastivePlugin.MASKED_PATCH, params, TestContext.builder()
                .optTowers(List.of("image", "target")).optEmbedDims(Map.of("image", hidden, "target", patchDim))
                .build(), manager);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        int hidden = reference.tokens()[0][0].length;
        int patchDim = reference.discriminativeBias().length;
        Loss loss = newLoss(new MaskedPatchLoss.Params(reference.patch(), reference.reconstructionWeight(), -2.0),
                hidden, patchDim);
        loss.parameters().get(0).getArray().set(ReferenceVectors.floats(ReferenceVectors.flatten(
                reference.discriminativeWeight())));
        loss.parameters().get(1).getArray().set(ReferenceVectors.floats(reference.discriminativeBias()));
        loss.parameters().get(2).getArray().set(ReferenceVectors.floats(ReferenceVectors.flatten(
                reference.generativeWeight())));
        loss.parameters().get(3).getArray().set(ReferenceVectors.floats(reference.generativeBias()));
        try (NDManager step = manager.newSubManager()) {
            NDArray tokens = array(step, reference.tokens());
            tokens.setRequiresGradient(true);
            EncodedBatch batch = batch(step, tokens, images(step, reference.maskedImages()),
                    images(step, reference.targetImages()), reference.patch());
            LossOutput output = computeWithGradients(loss, batch, step(step));
            String name = reference.name();
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, name + " loss");
            assertMatches(reference.infonce(), output.metrics().get("infonce"), REFERENCE_TOLERANCE, name + " infonce");
            assertMatches(reference.mse(), output.metrics().get("mse"), REFERENCE_TOLERANCE, name + " mse");
            assertMatches(reference.gradTokens(), tokens.getGradient(), REFERENCE_TOLERANCE, name + " d/d tokens");
            assertMatches(reference.gradDiscriminativeWeight(), loss.parameters().get(0).getArray().getGradient(),
                    REFERENCE_TOLERANCE, name + " d/d W_d");
            assertMatches(reference.gradGenerativeWeight(), loss.parameters().get(2).getArray().getGradient(),
                    REFERENCE_TOLERANCE, name + " d/d W_g");
            assertTrue(ReferenceVectors.relativeError(reference.gradDiscriminativeBias(),
                    loss.parameters().get(1).getArray().getGradient().toFloatArray()) <= REFERENCE_TOLERANCE, "d/d b_d");
            assertTrue(ReferenceVectors.relativeError(reference.gradGenerativeBias(),
                    loss.parameters().get(3).getArray().getGradient().toFloatArray()) <= REFERENCE_TOLERANCE, "d/d b_g");
        }
    }

    /**
     * Patches 1 and 2 of each 2x2 grid are masked. Changing the tokens and the true patches at 0 and 3 changes
     * nothing, and the gradient there is zero: only masked positions are scored, against masked candidates only.
     */
    @Test
    void onlyMaskedPatchesAreScored() {
        Loss loss = newLoss(new MaskedPatchLoss.Params(2, 3.0, -2.0), 5, 4);
        try (NDManager step = manager.newSubManager()) {
            NDArray target = step.randomUniform(-1, 1, new Shape(2, 1, 4, 4));
            NDArray masked = target.duplicate();
            masked.set(new NDIndex(":, :, 0:2, 2:4"), -3f);
            masked.set(new NDIndex(":, :, 2:4, 0:2"), -3f);
            NDArray tokens = step.randomNormal(new Shape(2, 4, 5));
            tokens.setRequiresGradient(true);
            LossOutput first = computeWithGradients(loss, batch(step, tokens, masked, target, 2), step(step));
            float value = first.value().getFloat();
            NDArray gradient = tokens.getGradient().duplicate();
            assertEquals(0f, gradient.get(new NDIndex(":, 0")).abs().sum().getFloat());
            assertEquals(0f, gradient.get(new NDIndex(":, 3")).abs().sum().getFloat());
            assertTrue(gradient.get(new NDIndex(":, 1:3")).abs().sum().getFloat() > 0);

            NDArray otherTokens = tokens.stopGradient().duplicate();
            otherTokens.set(new NDIndex(":, 0"), step.randomNormal(new Shape(2, 5)).mul(9));
            otherTokens.set(new NDIndex(":, 3"), step.randomNormal(new Shape(2, 5)).mul(9));
            NDArray otherTarget = target.duplicate();
            otherTarget.set(new NDIndex(":, :, 0:2, 0:2"), 0.9f); // patch 0
            otherTarget.set(new NDIndex(":, :, 2:4, 2:4"), -0.9f); // patch 3
            NDArray otherMasked = otherTarget.duplicate();
            otherMasked.set(new NDIndex(":, :, 0:2, 2:4"), -3f);
            otherMasked.set(new NDIndex(":, :, 2:4, 0:2"), -3f);
            otherTokens.setRequiresGradient(true);
            LossOutput second = computeWithGradients(loss, batch(step, otherTokens, otherMasked, otherTarget, 2),
                    step(step));
            assertEquals(value, second.value().getFloat(), 1e-6f);
            assertEquals(0.5f, first.metrics().get("masked").getFloat());
        }
    }

    /** What patch-mask draws is what the loss finds, after the image modality's normalisation (x - 0.5) / 0.5. */
    @Test
    void theLossFindsExactlyThePatchesTheAugmentationMasked() {
        PatchMask augmentation = new PatchMask(new PatchMask.Params(4, 0.4, -1.0, 1.0), TestContext.builder().build());
        MaskedPatchLoss loss = (MaskedPatchLoss) newLoss(new MaskedPatchLoss.Params(4, 10.0, -2.0), 8, 48);
        Random random = new Random(5);
        float[] pixels = new float[3 * 16 * 16];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = random.nextInt(256) / 255f;
        }
        ImageExample image = new ImageExample(pixels, 3, 16, 16);
        for (int seed = 0; seed < 5; seed++) {
            ImageExample out = augmentation.apply(image, new Random(seed));
            float[] normalised = out.pixels().clone();
            boolean[] expected = new boolean[16];
            for (int k = 0; k < 16; k++) {
                int top = k / 4 * 4;
                int left = k % 4 * 4;
                expected[k] = out.pixels()[top * 16 + left] != image.pixels()[top * 16 + left];
            }
            for (int i = 0; i < normalised.length; i++) {
                normalised[i] = (normalised[i] - 0.5f) / 0.5f;
            }
            try (NDManager step = manager.newSubManager()) {
                float[] found = loss.mask(Patches.of(step.create(normalised, new Shape(1, 3, 16, 16)), 4))
                        .toFloatArray();
                int count = 0;
                for (int k = 0; k < 16; k++) {
                    assertEquals(expected[k] ? 1f : 0f, found[k], "patch " + k + " with seed " + seed);
                    count += expected[k] ? 1 : 0;
                }
                assertEquals(6, count, "round(0.4 * 16) patches masked");
            }
        }
    }

    @Test
    void aPatchThatDoesNotMatchTheTokenGridIsNamed() {
        Loss loss = newLoss(new MaskedPatchLoss.Params(2, 1.0, -2.0), 5, 4);
        try (NDManager step = manager.newSubManager()) {
            NDArray target = step.randomUniform(-1, 1, new Shape(1, 1, 4, 4));
            EncodedBatch batch = batch(step, step.randomNormal(new Shape(1, 9, 5)), target, target, 2);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> loss.compute(batch, step(step)));
            assertTrue(e.getMessage().contains("token grid"), e.getMessage());
        }
    }

    @Test
    void badParametersAreNamed() {
        assertEquals("patch", assertThrows(InvalidParamException.class,
                () -> new MaskedPatchLoss.Params(0, 1.0, -2.0)).key());
        assertEquals("reconstruction_weight", assertThrows(InvalidParamException.class,
                () -> new MaskedPatchLoss.Params(4, -1.0, -2.0)).key());
        assertEquals("fill", assertThrows(InvalidParamException.class, () -> new PatchMask.Params(4, 0.5, 0.5, 1.0)).key());
        assertEquals("ratio", assertThrows(InvalidParamException.class, () -> new PatchMask.Params(4, 1.5, -1, 1.0)).key());
    }
}
