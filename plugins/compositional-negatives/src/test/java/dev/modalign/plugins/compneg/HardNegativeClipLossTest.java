package dev.modalign.plugins.compneg;

import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.modalign.api.BatchEncoder;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.StepContext;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class HardNegativeClipLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("image", "text");
    private static final List<String> ALL = List.of("swap-words", "shuffle-words", "swap-phrases", "replace-word");

    /** One case of compositional_negatives_reference.json (torch, float64, autograd). */
    record ReferenceCase(String name, double temperature, double logitScale, double[][] image, double[][] text,
            double[][] negatives, double loss, double[][] gradImage, double[][] gradText, double[][] gradNegatives,
            double gradLogitScale) {}

    static Stream<Arguments> referenceCases() {
        return cases("/compositional_negatives_reference.json", ReferenceCase.class).stream()
                .map(c -> Arguments.of(Named.of(c.name(), c)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        try (NDManager step = manager.newSubManager()) {
            NDArray image = array(step, reference.image());
            NDArray text = array(step, reference.text());
            NDArray negatives = reference.negatives().length == 0 ? null : array(step, reference.negatives());
            NDArray logScale = step.create((float) reference.logitScale());
            image.setRequiresGradient(true);
            text.setRequiresGradient(true);
            logScale.setRequiresGradient(true);
            if (negatives != null) {
                negatives.setRequiresGradient(true);
            }
            NDArray loss;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                loss = HardNegativeClipLoss.hardNegativeInfoNce(step, image, text, negatives, logScale);
                collector.backward(loss);
            }
            assertMatches(reference.loss(), loss, REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.gradImage(), image.getGradient(), REFERENCE_TOLERANCE, "gradient, image");
            assertMatches(reference.gradText(), text.getGradient(), REFERENCE_TOLERANCE, "gradient, text");
            if (negatives != null) {
                assertMatches(reference.gradNegatives(), negatives.getGradient(), REFERENCE_TOLERANCE,
                        "gradient, negatives");
            }
            assertMatches(reference.gradLogitScale(), logScale.getGradient(), REFERENCE_TOLERANCE,
                    "gradient, logit_scale");
        }
    }

    @Test
    void computeEncodesTheBatchsPerturbedCaptionsWithTheTextTowerAndAddsThemAsNegatives() {
        List<Object> captions = List.of("A red ball on a blue box.", "A frog.", "A happy snail.", "Hibiscus");
        HardNegativeClipLoss loss = (HardNegativeClipLoss) newLoss(ALL);
        try (NDManager step = manager.newSubManager()) {
            List<String> encodedTowers = new ArrayList<>();
            List<Object> encoded = new ArrayList<>();
            BatchEncoder encoder = new BatchEncoder() {
                @Override
                public List<Object> rawValues(String tower) {
                    assertEquals("text", tower);
                    return captions;
                }

                @Override
                public TowerOutput encode(String tower, List<?> rawValues) {
                    encodedTowers.add(tower);
                    encoded.addAll(rawValues);
                    return new TowerOutput(WordHashEncoder.encode(step, rawValues, 8, true));
                }
            };
            NDArray image = step.randomNormal(new Shape(4, 8));
            NDArray text = WordHashEncoder.encode(step, captions, 8, true);
            LossOutput output = loss.compute(LossFixtures.batch(TOWERS, image, text),
                    new StepContext(3, 0, 10, new Random(42), step, true, encoder));

            List<String> expected = loss.negatives(captions.stream().map(String::valueOf).toList(), new Random(42));
            assertEquals(List.of("text"), encodedTowers, "one call, on the text tower");
            assertEquals(expected, encoded, "the negatives drawn from the step's generator, in row order");
            // "Hibiscus" has no perturbation but a replaced head noun; every negative differs from every caption.
            for (Object negative : encoded) {
                for (Object caption : captions) {
                    assertNotEquals(CaptionPerturbation.words(String.valueOf(caption)),
                            CaptionPerturbation.words(String.valueOf(negative)));
                }
            }
            NDArray direct = HardNegativeClipLoss.hardNegativeInfoNce(step, image, text,
                    WordHashEncoder.encode(step, expected, 8, true), step.create((float) Math.log(1 / 0.07)));
            assertEquals(direct.getFloat(), output.value().getFloat(), 1e-6);
            assertEquals((float) expected.size() / 4, output.metrics().get("hard_negatives_per_caption").getFloat(), 1e-6);
        }
    }

    @Test
    void withoutNegativesToMakeItIsClipExactly() {
        Loss loss = newLoss(List.of("shuffle-words"));
        try (NDManager step = manager.newSubManager()) {
            List<Object> captions = List.of("Hibiscus", "Teapot", "Snail");
            NDArray image = step.randomNormal(new Shape(3, 8));
            NDArray text = step.randomNormal(new Shape(3, 8));
            BatchEncoder encoder = new BatchEncoder() {
                @Override
                public List<Object> rawValues(String tower) {
                    return captions;
                }

                @Override
                public TowerOutput encode(String tower, List<?> rawValues) {
                    throw new AssertionError("nothing to encode, yet asked to encode " + rawValues);
                }
            };
            float value = loss.compute(LossFixtures.batch(TOWERS, image, text),
                    new StepContext(0, 0, 1, new Random(0), step, true, encoder)).value().getFloat();
            float clip = HardNegativeClipLoss.hardNegativeInfoNce(step, image, text, null,
                    step.create((float) Math.log(1 / 0.07))).getFloat();
            assertEquals(clip, value, 0f);
        }
    }

    @Test
    void aHostWithoutABatchEncoderIsToldWhatIsMissing() {
        Loss loss = newLoss(ALL);
        try (NDManager step = manager.newSubManager()) {
            EncodedBatch batch = LossFixtures.batch(TOWERS, step.randomNormal(new Shape(2, 8)),
                    step.randomNormal(new Shape(2, 8)));
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> loss.compute(batch, LossFixtures.step(step)));
            assertTrue(e.getMessage().contains("API 1.3"), e.getMessage());
        }
    }

    /**
     * The mechanism, as NegCLIP fine-tunes a pretrained CLIP: a text tower that can see word order (word and
     * position features through one linear map) starts as a bag-of-words model already aligned with the images
     * (position weights 0, each image the embedding of its caption's words), so a caption and the caption with its
     * two words swapped embed identically: pair matching is a tie, chance. Fine-tuned with CLIP alone the loss is
     * already low and nothing asks for the order, so the swapped caption stays nearly as close; fine-tuned with
     * the swaps as hard negatives, every image prefers its true caption, by a margin many times CLIP's.
     */
    @Test
    void hardNegativesTeachAPretrainedBagOfWordsTextTowerTheWordOrder() {
        double[] clip = pairMatchingAfterTraining(false);
        double[] negClip = pairMatchingAfterTraining(true);
        System.out.printf("pair matching on swapped captions: CLIP accuracy %.3f margin %.4f; with hard negatives"
                + " accuracy %.3f margin %.4f%n", clip[0], clip[1], negClip[0], negClip[1]);
        assertEquals(1.0, negClip[0], 1e-9, "with hard negatives every image prefers its true word order");
        assertTrue(negClip[1] > 5 * Math.max(clip[1], 1e-6), "the hard negatives must widen the margin between the"
                + " true and the swapped caption well beyond CLIP's: " + negClip[1] + " against " + clip[1]);
    }

    private static final List<String> VOCABULARY = List.of("red", "ball", "blue", "box", "frog");

    /** Each word once first and once second, word sets all different: (red ball) (ball blue) ... (frog red). */
    private static List<String> cycleCaptions() {
        List<String> captions = new ArrayList<>();
        for (int i = 0; i < VOCABULARY.size(); i++) {
            captions.add(VOCABULARY.get(i) + " " + VOCABULARY.get((i + 1) % VOCABULARY.size()));
        }
        return captions;
    }

    /** Features [bag of words | first word | second word], one-hot over the vocabulary. */
    private static NDArray features(NDManager manager, List<?> captions) {
        int v = VOCABULARY.size();
        float[][] rows = new float[captions.size()][3 * v];
        for (int i = 0; i < rows.length; i++) {
            List<String> words = CaptionPerturbation.words(String.valueOf(captions.get(i)));
            for (int p = 0; p < words.size(); p++) {
                int id = VOCABULARY.indexOf(words.get(p));
                rows[i][id] += 1;
                rows[i][(p + 1) * v + id] += 1;
            }
        }
        return manager.create(rows);
    }

    /** Pair-matching accuracy and the mean margin cos(image, caption) - cos(image, swapped caption). */
    private double[] pairMatchingAfterTraining(boolean hardNegatives) {
        int v = VOCABULARY.size();
        int dim = 8;
        List<String> captions = cycleCaptions();
        Random random = new Random(7);
        float[][] bag = new float[3 * v][dim];
        for (int f = 0; f < v; f++) {
            for (int d = 0; d < dim; d++) {
                bag[f][d] = (float) random.nextGaussian();
            }
        }
        NDArray weights = manager.create(bag);
        // "Pretrained": each image is where the bag-of-words tower puts its caption.
        NDArray images = features(manager, captions).matMul(weights);
        Loss loss = newLoss(List.of("swap-words"), false);
        for (int s = 0; s < 200; s++) {
            weights.setRequiresGradient(true);
            try (NDManager step = manager.newSubManager()) {
                NDArray w = weights;
                BatchEncoder encoder = new BatchEncoder() {
                    @Override
                    public List<Object> rawValues(String tower) {
                        return List.copyOf(captions);
                    }

                    @Override
                    public TowerOutput encode(String tower, List<?> rawValues) {
                        return new TowerOutput(features(step, rawValues).matMul(w));
                    }
                };
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray text = features(step, captions).matMul(w);
                    NDArray value = hardNegatives
                            ? loss.compute(LossFixtures.batch(TOWERS, images, text),
                                    new StepContext(s, 0, 200, new Random(s), step, true, encoder)).value()
                            : HardNegativeClipLoss.hardNegativeInfoNce(step, images, text, null,
                                    step.create((float) Math.log(1 / 0.1)));
                    collector.backward(value);
                }
                NDArray updated = weights.sub(weights.getGradient().mul(2.0));
                updated.attach(manager);
                weights = updated;
            }
        }
        double correct = 0;
        double margin = 0;
        try (NDManager scope = manager.newSubManager()) {
            NDArray unitImages = dev.modalign.api.Scalars.normalise(images);
            NDArray truth = dev.modalign.api.Scalars.normalise(features(scope, captions).matMul(weights));
            List<String> swapped = captions.stream().map(c -> {
                List<String> words = CaptionPerturbation.words(c);
                return words.get(1) + " " + words.get(0);
            }).toList();
            NDArray swaps = dev.modalign.api.Scalars.normalise(features(scope, swapped).matMul(weights));
            float[] positive = unitImages.mul(truth).sum(new int[] {1}).toFloatArray();
            float[] negative = unitImages.mul(swaps).sum(new int[] {1}).toFloatArray();
            for (int i = 0; i < positive.length; i++) {
                correct += PairMatchingEvaluator.score(positive[i], negative[i]);
                margin += positive[i] - negative[i];
            }
        }
        return new double[] {correct / captions.size(), margin / captions.size()};
    }

    @Test
    void badParametersAreRefusedByName() {
        assertEquals("max_words", assertThrows(InvalidParamException.class,
                () -> new HardNegativeClipLoss.Params(ALL, 1, 0.07, true, 100)).key());
        assertEquals("perturbations", assertThrows(InvalidParamException.class,
                () -> new HardNegativeClipLoss.Params(List.of(), 15, 0.07, true, 100)).key());
        assertEquals("towers", assertThrows(InvalidParamException.class,
                () -> LossFixtures.newLoss(CompositionalNegativesPlugin.LOSS, new HardNegativeClipLoss.Params(ALL, 15,
                        0.07, true, 100), TestContext.builder().optTowers(List.of("image"), 8).build(), manager)).key());
    }

    @Test
    void thePluginIsFoundAndNamesThePaper() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("compositional-negatives")).findFirst().orElseThrow();
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertTrue(plugin.losses().get(0).description().contains("behave like bags-of-words"));
        assertTrue(plugin.evaluators().get(0).description().contains("behave like bags-of-words"));
    }

    private Loss newLoss(List<String> perturbations) {
        return newLoss(perturbations, true);
    }

    private Loss newLoss(List<String> perturbations, boolean learnable) {
        return LossFixtures.newLoss(CompositionalNegativesPlugin.LOSS, new HardNegativeClipLoss.Params(perturbations,
                15, learnable ? 0.07 : 0.1, learnable, 100), TestContext.builder().optTowers(TOWERS, 8).build(), manager);
    }
}
