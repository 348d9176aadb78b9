package dev.modalign.plugins.oneencoder;

import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.EvalResult;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Plugin;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class AnchoredAlignmentLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;

    /** One case of one_encoder_reference.json (torch, float64, autograd). */
    record ReferenceCase(String name, double temperature, double logitScale, boolean symmetric, double[] weights,
            List<String> groups, double[][] query, double[][][] anchors, double loss, double[][] gradQuery,
            double gradLogitScale) {}

    static Stream<Arguments> referenceCases() {
        return cases("/one_encoder_reference.json", ReferenceCase.class).stream()
                .map(c -> Arguments.of(Named.of(c.name(), c)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradientsAndLeavesTheAnchorsAlone(ReferenceCase reference) {
        List<String> towers = new ArrayList<>(List.of("new"));
        List<Double> weights = new ArrayList<>();
        for (int k = 0; k < reference.anchors().length; k++) {
            towers.add("anchor" + k);
            weights.add(reference.weights()[k]);
        }
        Loss loss = LossFixtures.newLoss(OneEncoderPlugin.LOSS, new AnchoredAlignmentLoss.Params(weights,
                reference.temperature(), true, 100, reference.symmetric()),
                TestContext.builder().optTowers(towers, reference.query()[0].length).build(), manager);
        loss.parameters().get(0).getArray().set(new float[] {(float) reference.logitScale()});
        try (NDManager step = manager.newSubManager()) {
            Map<String, TowerOutput> outputs = new LinkedHashMap<>();
            NDArray query = array(step, reference.query());
            query.setRequiresGradient(true);
            outputs.put("new", new TowerOutput(query));
            List<NDArray> anchors = new ArrayList<>();
            for (int k = 0; k < reference.anchors().length; k++) {
                NDArray anchor = array(step, reference.anchors()[k]);
                anchor.setRequiresGradient(true);
                anchors.add(anchor);
                outputs.put("anchor" + k, new TowerOutput(anchor));
            }
            EncodedBatch batch = new EncodedBatch(outputs, null, reference.groups());
            LossOutput output = LossFixtures.computeWithGradients(loss, batch, LossFixtures.step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.gradQuery(), query.getGradient(), REFERENCE_TOLERANCE, "gradient, new tower");
            assertMatches(reference.gradLogitScale(), loss.parameters().get(0).getArray().getGradient(),
                    REFERENCE_TOLERANCE, "gradient, logit_scale");
            for (NDArray anchor : anchors) {
                assertEquals(0f, anchor.getGradient().abs().sum().getFloat(), 0f,
                        "the frozen space must get no gradient from the alignment loss");
            }
        }
    }

    /**
     * The mechanism: a frozen space where images and captions are aligned (image = caption embedding + noise), and
     * a new modality whose raw features are an unknown linear mix of the captions' (speech, say). A linear new
     * tower trained with this loss against the text anchor alone retrieves the images it never saw far above
     * chance (emergent retrieval), while the frozen space stays exactly where it was.
     */
    @Test
    void aNewTowerAlignedToFrozenTextRetrievesImagesItNeverSaw() {
        int n = 48;
        int dim = 16;
        Engine.getInstance().setRandomSeed(5);
        NDArray text = manager.randomNormal(new Shape(n, dim));
        NDArray images = text.add(manager.randomNormal(new Shape(n, dim)).mul(0.3));
        NDArray mixing = manager.randomNormal(new Shape(dim, dim));
        NDArray raw = text.matMul(mixing).add(manager.randomNormal(new Shape(n, dim)).mul(0.1));
        float[] textBefore = text.toFloatArray();
        float[] imagesBefore = images.toFloatArray();

        Loss loss = LossFixtures.newLoss(OneEncoderPlugin.LOSS, new AnchoredAlignmentLoss.Params(List.of(), 0.1, false,
                100, true), TestContext.builder().optTowers(List.of("audio", "text"), dim).build(), manager);
        Map<String, Double> before = emergent(n, manager.randomNormal(new Shape(dim, dim)).mul(0.1), raw, text, images);
        NDArray weights = manager.randomNormal(new Shape(dim, dim)).mul(0.1);
        for (int s = 0; s < 150; s++) {
            weights.setRequiresGradient(true);
            try (NDManager step = manager.newSubManager()) {
                text.setRequiresGradient(true);
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    Map<String, TowerOutput> outputs = new LinkedHashMap<>();
                    outputs.put("audio", new TowerOutput(raw.matMul(weights)));
                    outputs.put("text", new TowerOutput(text));
                    collector.backward(loss.compute(new EncodedBatch(outputs, null), LossFixtures.step(step)).value());
                }
                assertEquals(0f, text.getGradient().abs().sum().getFloat(), 0f, "the text anchor got a gradient");
                NDArray updated = weights.sub(weights.getGradient().mul(2.0));
                updated.attach(manager);
                weights = updated;
            }
        }
        Map<String, Double> after = emergent(n, weights, raw, text, images);
        System.out.println("emergent audio->image before " + before + "\nafter " + after);
        assertEquals(1.0 / n, after.get("audio_to_image/chance_R_at_1"), 1e-12);
        assertTrue(after.get("audio_to_text/R_at_1") > 0.8, after.toString());
        assertTrue(after.get("emergent/R_at_1_over_chance") > 10, "speech->image, never trained, must be far above"
                + " chance: " + after);
        assertTrue(before.get("emergent/R_at_1_over_chance") < 5, before.toString());
        org.junit.jupiter.api.Assertions.assertArrayEquals(textBefore, text.toFloatArray(), 0f);
        org.junit.jupiter.api.Assertions.assertArrayEquals(imagesBefore, images.toFloatArray(), 0f);
    }

    private Map<String, Double> emergent(int n, NDArray weights, NDArray raw, NDArray text, NDArray images) {
        try (NDManager scope = manager.newSubManager()) {
            String[] groups = new String[n];
            for (int i = 0; i < n; i++) {
                groups[i] = "item" + i;
            }
            FixedEvalContext context = new FixedEvalContext(scope).tower("audio", raw.matMul(weights))
                    .tower("text", text).tower("image", images).towers("audio", "text", "image").groupIds(groups);
            EvalResult result = OneEncoderPlugin.EMERGENT_RETRIEVAL.create(new EmergentRetrievalEvaluator.Params(
                    List.of("text"), List.of(1, 5)), TestContext.builder().optTowers(List.of("audio", "text", "image"),
                    16).build()).evaluate(context);
            return result.metrics();
        }
    }

    @Test
    void sameItemRowsAreNotNegatives() {
        // Two voices of one caption: with the other voice a negative the loss would push it away from the text.
        try (NDManager step = manager.newSubManager()) {
            NDArray query = step.create(new float[][] {{1, 0}, {1, 0.01f}, {0, 1}});
            NDArray anchor = step.create(new float[][] {{1, 0}, {1, 0}, {0, 1}});
            Loss loss = LossFixtures.newLoss(OneEncoderPlugin.LOSS, new AnchoredAlignmentLoss.Params(List.of(), 0.1,
                    false, 100, true), TestContext.builder().optTowers(List.of("audio", "text"), 2).build(), manager);
            Map<String, TowerOutput> outputs = Map.of("audio", new TowerOutput(query), "text", new TowerOutput(anchor));
            float grouped = loss.compute(new EncodedBatch(outputs, null, List.of("a", "a", "b")), LossFixtures.step(step))
                    .value().getFloat();
            float ungrouped = loss.compute(new EncodedBatch(outputs, null), LossFixtures.step(step)).value().getFloat();
            assertTrue(grouped < 0.01, "with the voices as one item the pairs are perfect: " + grouped);
            assertTrue(ungrouped > 0.3, "as separate items each voice has its twin as a hard negative: " + ungrouped);
        }
    }

    @Test
    void badParametersAreRefusedByName() {
        assertEquals("anchor_weights", assertThrows(InvalidParamException.class,
                () -> new AnchoredAlignmentLoss.Params(List.of(0.0), 0.07, true, 100, true)).key());
        assertEquals("anchor_weights", assertThrows(InvalidParamException.class,
                () -> LossFixtures.newLoss(OneEncoderPlugin.LOSS, new AnchoredAlignmentLoss.Params(List.of(1.0, 1.0),
                        0.07, true, 100, true), TestContext.builder().optTowers(List.of("a", "b"), 4).build(), manager))
                .key());
        assertEquals("towers", assertThrows(InvalidParamException.class,
                () -> LossFixtures.newLoss(OneEncoderPlugin.LOSS, new AnchoredAlignmentLoss.Params(List.of(), 0.07, true,
                        100, true), TestContext.builder().optTowers(List.of("a"), 4).build(), manager)).key());
        assertEquals("trained_with", assertThrows(InvalidParamException.class,
                () -> OneEncoderPlugin.EMERGENT_RETRIEVAL.create(new EmergentRetrievalEvaluator.Params(List.of("x"),
                        List.of(1)), TestContext.builder().optTowers(List.of("a", "b"), 4).build())).key());
    }

    @Test
    void thePluginIsFoundAndNamesThePaper() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("one-encoder")).findFirst().orElseThrow();
        assertTrue(plugin.losses().get(0).description().contains("OneEncoder"));
        assertTrue(plugin.evaluators().get(0).description().contains("OneEncoder"));
    }
}
