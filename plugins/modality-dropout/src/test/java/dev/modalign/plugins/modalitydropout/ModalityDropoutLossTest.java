package dev.modalign.plugins.modalitydropout;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.withFlag;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.StepContext;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ModalityDropoutLoss against reference values that
 * plugins/modality-dropout/src/test/python/make_reference.py computed with numpy in float64 (hand-derived
 * gradients, checked there against finite differences) for given kept towers; and the seeded draw of which
 * towers a step keeps, its metrics and validation.
 */
class ModalityDropoutLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;

    /** One case of modality_dropout_reference.json; arrays are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            double maxLogitScale,
            double logitScale,
            boolean[] kept,
            double[][][] towers,
            double loss,
            Map<String, Double> pairLosses,
            double[][][] grads,
            double gradLogitScale) {}

    static Stream<Arguments> referenceCases() {
        return withFlag(cases("/modality_dropout_reference.json", ReferenceCase.class), ReferenceCase::name,
                c -> c.logitScale() <= Math.log(c.maxLogitScale()));
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradientsForTheKeptTowers(ReferenceCase reference, boolean learnable) {
        List<String> towers = towerNames(reference.towers().length);
        ModalityDropoutLoss loss = newLoss(new ModalityDropoutLoss.Params(0.5, 2, reference.temperature(), learnable,
                reference.maxLogitScale()), towers);
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.logitScale()});
        }
        try (NDManager step = manager.newSubManager()) {
            List<NDArray> embeddings = new ArrayList<>();
            for (double[][] tower : reference.towers()) {
                NDArray array = array(step, tower);
                array.setRequiresGradient(true);
                embeddings.add(array);
            }
            EncodedBatch batch = batch(towers, embeddings, null);
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch, step(step), reference.kept());
                collector.backward(output.value());
            }
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            for (int k = 0; k < towers.size(); k++) {
                assertMatches(reference.grads()[k], embeddings.get(k).getGradient(), REFERENCE_TOLERANCE,
                        reference.name() + " gradient with respect to tower " + k);
                assertEquals(reference.kept()[k] ? 1f : 0f, output.metrics().get("kept/" + towers.get(k)).getFloat());
            }
            if (learnable) {
                assertMatches(reference.gradLogitScale(), loss.parameters().get(0).getArray().getGradient(),
                        REFERENCE_TOLERANCE, reference.name() + " gradient with respect to logit_scale");
            }
            reference.pairLosses().forEach((pair, expected) -> {
                String[] indices = pair.split("-");
                String key = "loss/" + towers.get(Integer.parseInt(indices[0])) + "-"
                        + towers.get(Integer.parseInt(indices[1]));
                assertMatches(expected, output.metrics().get(key), REFERENCE_TOLERANCE, reference.name() + " " + key);
            });
            long keptCount = IntStream.range(0, towers.size()).filter(k -> reference.kept()[k]).count();
            assertEquals(keptCount, output.metrics().get("towers_kept").getFloat());
            assertEquals(keptCount * (keptCount - 1) / 2,
                    output.metrics().keySet().stream().filter(key -> key.startsWith("loss/")).count());
        }
    }

    @Test
    void eachStepKeepsARandomMinimumAndDropsEveryOtherTowerWithProbabilityP() {
        ModalityDropoutLoss loss = newLoss(new ModalityDropoutLoss.Params(0.5, 2, 0.07, true, 100),
                List.of("image", "audio", "text"));
        Random random = new Random(12);
        int draws = 30000;
        int[] keptTimes = new int[3];
        int allKept = 0;
        for (int d = 0; d < draws; d++) {
            boolean[] kept = loss.draw(random);
            int count = 0;
            for (int k = 0; k < 3; k++) {
                keptTimes[k] += kept[k] ? 1 : 0;
                count += kept[k] ? 1 : 0;
            }
            assertTrue(count >= 2, "a step kept fewer than min_towers");
            allKept += count == 3 ? 1 : 0;
        }
        // The third tower (whichever it is) is dropped half the time; each tower is one of the two required
        // with probability 2/3, else kept with probability 1/2: 2/3 + 1/3 * 1/2 = 5/6.
        assertEquals(0.5, (double) allKept / draws, 0.01);
        for (int k = 0; k < 3; k++) {
            assertEquals(5.0 / 6, (double) keptTimes[k] / draws, 0.01, "tower " + k);
        }
        // The same generator state, the same towers.
        assertArrayEquals(loss.draw(new Random(5)), loss.draw(new Random(5)));
    }

    @Test
    void probabilityZeroKeepsEveryTowerAndOneKeepsExactlyTheMinimum() {
        List<String> towers = List.of("a", "b", "c", "d", "e");
        ModalityDropoutLoss never = newLoss(new ModalityDropoutLoss.Params(0, 2, 0.07, true, 100), towers);
        ModalityDropoutLoss always = newLoss(new ModalityDropoutLoss.Params(1, 3, 0.07, true, 100), towers);
        Random random = new Random(1);
        for (int d = 0; d < 200; d++) {
            assertArrayEquals(new boolean[] {true, true, true, true, true}, never.draw(random));
            boolean[] kept = always.draw(random);
            assertEquals(3, IntStream.range(0, 5).filter(k -> kept[k]).count());
        }
    }

    @Test
    void outsideTrainingEveryTowerIsKeptAndInTrainingTheStepGeneratorDecides() {
        List<String> towers = List.of("image", "audio", "text");
        ModalityDropoutLoss loss = newLoss(new ModalityDropoutLoss.Params(1, 2, 0.07, false, 100), towers);
        try (NDManager step = manager.newSubManager()) {
            List<NDArray> embeddings = List.of(step.randomNormal(new Shape(4, 3)), step.randomNormal(new Shape(4, 3)),
                    step.randomNormal(new Shape(4, 3)));
            EncodedBatch batch = batch(towers, embeddings, null);
            LossOutput evaluation = loss.compute(batch, new StepContext(0, 0, 1, new Random(0), step, false));
            assertEquals(3f, evaluation.metrics().get("towers_kept").getFloat());
            assertEquals(loss.compute(batch, step(step), new boolean[] {true, true, true}).value().getFloat(),
                    evaluation.value().getFloat(), 1e-6);
            // With p = 1 a training step keeps two, those the step's generator draws.
            LossOutput training = loss.compute(batch, new StepContext(3, 0, 10, new Random(99), step, true));
            assertEquals(2f, training.metrics().get("towers_kept").getFloat());
            boolean[] expected = loss.draw(new Random(99));
            assertEquals(loss.compute(batch, step(step), expected).value().getFloat(), training.value().getFloat(), 1e-6);
        }
    }

    @Test
    void rejectsBadParametersAndTowersByTheirKeys() {
        for (double p : new double[] {-0.1, 1.1, Double.NaN}) {
            assertEquals("p", assertThrows(InvalidParamException.class,
                    () -> new ModalityDropoutLoss.Params(p, 2, 0.07, true, 100)).key());
        }
        assertEquals("min_towers", assertThrows(InvalidParamException.class,
                () -> new ModalityDropoutLoss.Params(0.5, 1, 0.07, true, 100)).key());
        assertEquals("temperature", assertThrows(InvalidParamException.class,
                () -> new ModalityDropoutLoss.Params(0.5, 2, 0.001, true, 100)).key());
        ModalityDropoutLoss.Params threeRequired = new ModalityDropoutLoss.Params(0.5, 3, 0.07, true, 100);
        assertEquals("min_towers", assertThrows(InvalidParamException.class, () -> new ModalityDropoutLoss(threeRequired,
                TestContext.builder().optTowers(List.of("a", "b"), 4).build())).key());
        ModalityDropoutLoss.Params params = new ModalityDropoutLoss.Params(0.5, 2, 0.07, true, 100);
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> new ModalityDropoutLoss(params,
                TestContext.builder().optTowers(List.of("a"), 4).build())).key());
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> new ModalityDropoutLoss(params,
                TestContext.builder().optTowers(List.of("a", "b", "a"), 4).build())).key());
        ComponentContext mixed = TestContext.builder().optTowers(List.of("image", "audio", "text"))
                .optEmbedDims(Map.of("image", 128, "audio", 128, "text", 64)).build();
        InvalidParamException dims = assertThrows(InvalidParamException.class, () -> new ModalityDropoutLoss(params, mixed));
        assertTrue(dims.getMessage().contains("embed_dim"), dims.getMessage());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithThePapersTitleOnBothComponents() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin plugin = plugins.stream().filter(p -> p.name().equals("modality-dropout")).findFirst().orElseThrow();
        assertInstanceOf(ModalityDropoutPlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        String title = "MMG-Ego4D: Multi-Modal Generalization in Egocentric Action Recognition";
        assertTrue(plugin.losses().stream().anyMatch(f -> f.name().equals("modality-dropout")
                && f.description().contains(title)));
        assertTrue(plugin.evaluators().stream().anyMatch(f -> f.name().equals("missing-modality")
                && f.description().contains(title)));
    }

    private ModalityDropoutLoss newLoss(ModalityDropoutLoss.Params params, List<String> towers) {
        Loss loss = LossFixtures.newLoss(ModalityDropoutPlugin.MODALITY_DROPOUT, params,
                TestContext.builder().optTowers(towers, 4).build(), manager);
        return (ModalityDropoutLoss) loss;
    }

    private static List<String> towerNames(int count) {
        return IntStream.range(0, count).mapToObj(k -> "tower" + k).toList();
    }
}
