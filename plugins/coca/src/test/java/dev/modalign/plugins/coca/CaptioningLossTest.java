package dev.modalign.plugins.coca;

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
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.engine.Engine;
import dev.modalign.api.EncodedBatch;
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
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * CaptioningLoss against reference values that plugins/coca/src/test/python/make_reference.py computed with
 * torch in float64 (value, token accuracy, gradients with respect to the image tokens and every decoder
 * parameter); the decoder's causality; and that training the decoder makes it caption what the image shows.
 */
class CaptioningLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    static final List<String> TOWERS = List.of("image", "text");

    /** One case of coca_reference.json. */
    record ReferenceCase(String name, int vocabSize, int maxLen, int width, int layers, int heads, int[][] ids,
            double[][] mask, double[][][] memory, double[][] memoryMask, List<String> parameterNames,
            double[][] parameters, double loss, double tokenAccuracy, double[][][] gradMemory,
            double[][] parameterGrads) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/coca_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    /** A batch as the trainer gives it: the image tower's tokens, the text tower's ids and mask as its input. */
    static EncodedBatch batch(NDManager manager, NDArray memory, NDArray memoryMask, int[][] ids, NDArray mask) {
        long b = memory.getShape().get(0);
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        towers.put("image", new TowerOutput(manager.zeros(new Shape(b, memory.getShape().get(2))), memory, memoryMask));
        towers.put("text", new TowerOutput(manager.zeros(new Shape(b, 4))));
        int t = ids[0].length;
        int[] flat = new int[ids.length * t];
        for (int i = 0; i < ids.length; i++) {
            System.arraycopy(ids[i], 0, flat, i * t, t);
        }
        Map<String, NDList> inputs = Map.of("text", new NDList(manager.create(flat, new Shape(ids.length, t)), mask),
                "image", new NDList(manager.zeros(new Shape(b, 3, 4, 4))));
        return new EncodedBatch(towers, null, null, inputs);
    }

    private CaptioningLoss newLoss(CaptioningLoss.Params params, int imageDim) {
        return (CaptioningLoss) LossFixtures.newLoss(CocaPlugin.CAPTIONING, params,
                TestContext.builder().optTowers(TOWERS).optEmbedDims(Map.of("image", imageDim, "text", 4)).optSeed(5)
                        .build(), manager);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        int imageDim = reference.memory()[0][0].length;
        CaptioningLoss loss = newLoss(new CaptioningLoss.Params(reference.width(), reference.layers(),
                reference.heads(), reference.vocabSize(), reference.maxLen()), imageDim);
        List<Parameter> parameters = loss.parameters();
        assertEquals(reference.parameterNames().size(), parameters.size(), "decoder parameters");
        for (int k = 0; k < parameters.size(); k++) {
            assertEquals("decoder." + reference.parameterNames().get(k), parameters.get(k).getName());
            parameters.get(k).getArray().set(ReferenceVectors.floats(reference.parameters()[k]));
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray memory = array(step, reference.memory());
            memory.setRequiresGradient(true);
            EncodedBatch batch = batch(step, memory, array(step, reference.memoryMask()), reference.ids(),
                    array(step, reference.mask()));
            LossOutput output = computeWithGradients(loss, batch, step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.tokenAccuracy(), output.metrics().get("token_accuracy"), REFERENCE_TOLERANCE,
                    reference.name() + " token accuracy");
            assertMatches(reference.gradMemory(), memory.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the image tokens");
            for (int k = 0; k < parameters.size(); k++) {
                double error = ReferenceVectors.relativeError(reference.parameterGrads()[k],
                        parameters.get(k).getArray().getGradient().toFloatArray());
                assertTrue(error <= REFERENCE_TOLERANCE, reference.name() + " gradient of "
                        + reference.parameterNames().get(k) + ": relative error " + error);
            }
        }
    }

    @Test
    void aPositionSeesNoLaterToken() {
        CaptioningLoss loss = newLoss(new CaptioningLoss.Params(16, 2, 2, 20, 8), 6);
        try (NDManager step = manager.newSubManager()) {
            NDArray memory = step.randomNormal(new Shape(2, 3, 6));
            NDArray before = loss.decoder().logits(step.create(new int[] {1, 5, 6, 7, 8, 1, 9, 10, 11, 12},
                    new Shape(2, 5)), memory, null);
            NDArray after = loss.decoder().logits(step.create(new int[] {1, 5, 6, 17, 18, 1, 9, 10, 11, 4},
                    new Shape(2, 5)), memory, null);
            // Row 0 changed from position 3, row 1 at position 4: logits before those are the same.
            assertTrue(before.get(new NDIndex("0, :3")).allClose(after.get(new NDIndex("0, :3")), 1e-6, 1e-6, false));
            assertTrue(before.get(new NDIndex("1, :4")).allClose(after.get(new NDIndex("1, :4")), 1e-6, 1e-6, false));
            assertTrue(before.get(new NDIndex("0, 3:")).sub(after.get(new NDIndex("0, 3:"))).abs().max()
                    .getFloat() > 1e-4, "a changed token changes the logits from its own position on");
        }
    }

    @Test
    void aMaskedImageTokenIsNotAttendedTo() {
        CaptioningLoss loss = newLoss(new CaptioningLoss.Params(16, 1, 2, 20, 8), 6);
        try (NDManager step = manager.newSubManager()) {
            NDArray memory = step.randomNormal(new Shape(1, 3, 6));
            NDArray mask = step.create(new float[] {1, 1, 0}, new Shape(1, 3));
            NDArray changed = memory.concat(memory, 0).get(new NDIndex("0:1"));
            changed.set(new NDIndex("0, 2"), step.randomNormal(new Shape(6)).mul(5));
            NDArray ids = step.create(new int[] {1, 5, 6}, new Shape(1, 3));
            assertTrue(loss.decoder().logits(ids, memory, mask).allClose(loss.decoder().logits(ids, changed, mask),
                    1e-6, 1e-6, false));
        }
    }

    /**
     * Two images, two captions: 120 plain gradient steps on the decoder alone must make greedy
     * decoding say each image's own caption, which needs the cross-attention to the image.
     */
    @Test
    void trainingTheDecoderMakesItCaptionEachImage() {
        CaptioningLoss loss = newLoss(new CaptioningLoss.Params(16, 1, 2, 24, 6), 6);
        NDArray memory = manager.randomNormal(new Shape(2, 3, 6));
        int[][] ids = {{1, 7, 8, 9}, {1, 10, 11, 0}};
        NDArray mask = manager.create(new float[] {1, 1, 1, 1, 1, 1, 1, 0}, new Shape(2, 4));
        double first = Double.NaN;
        double last = Double.NaN;
        for (int i = 0; i < 120; i++) {
            try (NDManager step = manager.newSubManager()) {
                EncodedBatch batch = batch(step, memory, null, ids, mask);
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    LossOutput output = loss.compute(batch, step(step));
                    collector.backward(output.value());
                    last = output.value().getFloat();
                    first = i == 0 ? last : first;
                }
                for (Parameter parameter : loss.parameters()) {
                    NDArray value = parameter.getArray();
                    value.subi(value.getGradient().mul(0.6f));
                    value.getGradient().subi(value.getGradient());
                }
            }
        }
        assertTrue(last < 0.1 * first, "the captioning loss fell from " + first + " to " + last);
        int[][] captions = loss.decoder().greedy(memory, null, CaptioningLoss.START, CaptioningLoss.END);
        assertEquals(List.of(7, 8, 9), java.util.Arrays.stream(captions[0]).boxed().toList());
        assertEquals(List.of(10, 11), java.util.Arrays.stream(captions[1]).boxed().toList());
    }

    @Test
    void anIdOutsideTheVocabularyIsNamed() {
        CaptioningLoss loss = newLoss(new CaptioningLoss.Params(8, 1, 2, 10, 6), 6);
        try (NDManager step = manager.newSubManager()) {
            EncodedBatch batch = batch(step, step.randomNormal(new Shape(1, 2, 6)), null, new int[][] {{1, 12}},
                    step.ones(new Shape(1, 2)));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> loss.compute(batch, step(step)));
            assertTrue(e.getMessage().contains("vocab_size"), e.getMessage());
        }
    }

    @Test
    void badParametersAreNamed() {
        assertEquals("heads", assertThrows(InvalidParamException.class,
                () -> new CaptioningLoss.Params(10, 1, 4, 100, 16)).key());
        assertEquals("max_len", assertThrows(InvalidParamException.class,
                () -> new CaptioningLoss.Params(8, 1, 2, 100, 1)).key());
    }
}
