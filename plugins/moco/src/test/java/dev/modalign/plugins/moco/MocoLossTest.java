package dev.modalign.plugins.moco;

import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.Scalars;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * MocoLoss against reference values that plugins/moco/src/test/python/make_reference.py computed with torch in
 * float64 (autograd gradients); its queue (the last K keys, in order, across wrap-around, saved and restored);
 * and its validation.
 */
class MocoLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;

    /** One case of moco_reference.json. */
    record ReferenceCase(String name, int towers, double temperature, boolean inBatch, double[][] a, double[][] b,
            double[][] aKey, double[][] bKey, double[][] aQueue, double[][] bQueue, double loss, double[][] gradA,
            double[][] gradB) {}

    static Stream<Arguments> referenceCases() {
        return cases("/moco_reference.json", ReferenceCase.class).stream().map(c -> Arguments.of(Named.of(c.name(), c)));
    }

    private static final List<String> PAIR = List.of("a", "b_key");
    private static final List<String> FOUR = List.of("a", "b", "a_key", "b_key");

    private Loss newLoss(MocoLoss.Params params, List<String> towers, int dim) {
        return LossFixtures.newLoss(MocoPlugin.MOCO, params, TestContext.builder().optTowers(towers, dim).build(),
                manager);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        List<String> towers = reference.towers() == 2 ? PAIR : FOUR;
        int dim = reference.a()[0].length;
        Loss loss = newLoss(new MocoLoss.Params(reference.temperature(), 64, reference.inBatch()), towers, dim);
        try (NDManager step = manager.newSubManager()) {
            // Fill the queues through the loss's own after-step hook, as training does.
            if (reference.aQueue().length > 0) {
                NDArray aQueue = array(step, reference.aQueue());
                NDArray bQueue = array(step, reference.bQueue());
                loss.afterStep(reference.towers() == 2 ? LossFixtures.batch(PAIR, aQueue, bQueue)
                        : LossFixtures.batch(FOUR, aQueue, bQueue, aQueue, bQueue), step(step));
            }
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            EncodedBatch batch = reference.towers() == 2
                    ? LossFixtures.batch(PAIR, a, array(step, reference.bKey()))
                    : LossFixtures.batch(FOUR, a, b, array(step, reference.aKey()), array(step, reference.bKey()));
            LossOutput output = computeWithGradients(loss, batch, step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.gradA(), a.getGradient(), REFERENCE_TOLERANCE, reference.name() + " gradient of a");
            if (reference.towers() == 4) {
                assertMatches(reference.gradB(), b.getGradient(), REFERENCE_TOLERANCE, reference.name() + " gradient of b");
            }
        }
    }

    @Test
    void theQueueHoldsExactlyTheLastKKeysInOrderAcrossWrapAround() {
        int capacity = 7;
        int dim = 3;
        MocoLoss loss = (MocoLoss) newLoss(new MocoLoss.Params(0.1, capacity, true), PAIR, dim);
        float[][] all = new float[5 * 3][dim];
        for (int stepIndex = 0; stepIndex < 5; stepIndex++) {
            try (NDManager step = manager.newSubManager()) {
                float[][] keys = new float[3][dim];
                for (int r = 0; r < 3; r++) {
                    for (int d = 0; d < dim; d++) {
                        keys[r][d] = (float) Math.sin(1 + 10 * stepIndex + 3 * r + d * 0.7);
                    }
                    all[stepIndex * 3 + r] = keys[r];
                }
                loss.afterStep(LossFixtures.batch(PAIR, step.zeros(new Shape(3, dim)), step.create(keys)), step(step));
                int seen = (stepIndex + 1) * 3;
                assertEquals(Math.min(capacity, seen), loss.queue(0).size());
            }
        }
        // After 15 keys into a queue of 7, it holds keys 8..14, oldest first, each unit-normalised.
        float[] held = loss.queue(0).toFloatArray();
        try (NDManager scope = manager.newSubManager()) {
            float[][] expected = new float[capacity][];
            for (int i = 0; i < capacity; i++) {
                expected[i] = all[15 - capacity + i];
            }
            float[] unit = Scalars.normalise(scope.create(expected)).toFloatArray();
            assertArrayEquals(unit, held, 0f);
        }
    }

    @Test
    void aBatchLargerThanTheQueueLeavesItsLastRows() {
        MocoLoss loss = (MocoLoss) newLoss(new MocoLoss.Params(0.1, 2, true), PAIR, 2);
        try (NDManager step = manager.newSubManager()) {
            NDArray keys = step.create(new float[][] {{1, 0}, {0, 1}, {-1, 0}, {0, -1}});
            loss.afterStep(LossFixtures.batch(PAIR, keys, keys), step(step));
        }
        assertArrayEquals(new float[] {-1, 0, 0, -1}, loss.queue(0).toFloatArray(), 0f);
    }

    @Test
    void theQueueIsSavedAndRestoredExactlySoAResumedRunSeesTheSameNegatives() throws IOException {
        MocoLoss loss = (MocoLoss) newLoss(new MocoLoss.Params(0.1, 5, true), FOUR, 4);
        try (NDManager step = manager.newSubManager()) {
            for (int i = 0; i < 3; i++) {
                NDArray keys = step.randomNormal(new Shape(2, 4));
                loss.afterStep(LossFixtures.batch(FOUR, keys, keys, keys.mul(2), keys.neg()), step(step));
            }
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        loss.saveState(new DataOutputStream(bytes));
        MocoLoss restored = (MocoLoss) newLoss(new MocoLoss.Params(0.1, 5, true), FOUR, 4);
        restored.loadState(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
        for (int i = 0; i < 2; i++) {
            assertArrayEquals(loss.queue(i).toFloatArray(), restored.queue(i).toFloatArray(), 0f);
            assertEquals(loss.queue(i).size(), restored.queue(i).size());
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray keys = step.randomNormal(new Shape(3, 4));
            EncodedBatch batch = LossFixtures.batch(FOUR, keys, keys.add(1), keys.sub(1), keys.mul(3));
            assertEquals(loss.compute(batch, step(step)).value().getFloat(),
                    restored.compute(batch, step(step)).value().getFloat(), 0f);
        }
        MocoLoss other = (MocoLoss) newLoss(new MocoLoss.Params(0.1, 6, true), FOUR, 4);
        IOException refused = assertThrows(IOException.class,
                () -> other.loadState(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray()))));
        assertTrue(refused.getMessage().contains("queue_size"), refused.getMessage());
    }

    @Test
    void queuedNegativesRaiseTheLossOfAQueryThatResemblesThem() {
        // The queue is what MoCo adds: a past key close to the query is a hard negative.
        MocoLoss loss = (MocoLoss) newLoss(new MocoLoss.Params(0.1, 8, true), PAIR, 2);
        try (NDManager step = manager.newSubManager()) {
            NDArray q = step.create(new float[][] {{1, 0}, {0, 1}});
            NDArray k = step.create(new float[][] {{1, 0.1f}, {0.1f, 1}});
            float before = loss.compute(LossFixtures.batch(PAIR, q, k), step(step)).value().getFloat();
            loss.afterStep(LossFixtures.batch(PAIR, q, step.create(new float[][] {{1, 0.05f}, {0.05f, 1}})), step(step));
            LossOutput after = loss.compute(LossFixtures.batch(PAIR, q, k), step(step));
            assertTrue(after.value().getFloat() > before + 0.5, before + " without, " + after.value().getFloat()
                    + " with hard queued negatives");
            assertEquals(2f, after.metrics().get("queue_size").getFloat());
        }
    }

    @Test
    void theKeysGetNoGradient() {
        Loss loss = newLoss(new MocoLoss.Params(0.1, 8, true), PAIR, 3);
        try (NDManager step = manager.newSubManager()) {
            NDArray q = step.randomNormal(new Shape(4, 3));
            NDArray k = step.randomNormal(new Shape(4, 3));
            q.setRequiresGradient(true);
            k.setRequiresGradient(true);
            computeWithGradients(loss, LossFixtures.batch(PAIR, q, k), step(step));
            assertEquals(0f, k.getGradient().abs().sum().getFloat());
            assertTrue(q.getGradient().abs().sum().getFloat() > 0);
        }
    }

    @Test
    void rejectsBadParametersAndTowersByTheirKeys() {
        assertEquals("temperature", assertThrows(InvalidParamException.class, () -> new MocoLoss.Params(0, 8, true)).key());
        assertEquals("queue_size", assertThrows(InvalidParamException.class, () -> new MocoLoss.Params(0.1, 0, true)).key());
        MocoLoss.Params params = new MocoLoss.Params(0.1, 8, true);
        for (List<String> towers : List.of(List.of("a"), List.of("a", "b", "c"), List.of("a", "a"))) {
            assertEquals("towers", assertThrows(InvalidParamException.class,
                    () -> new MocoLoss(params, TestContext.builder().optTowers(towers, 4).build())).key());
        }
        InvalidParamException dims = assertThrows(InvalidParamException.class, () -> new MocoLoss(params,
                TestContext.builder().optTowers(PAIR).optEmbedDims(Map.of("a", 8, "b_key", 4)).build()));
        assertTrue(dims.getMessage().contains("embed_dim"), dims.getMessage());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithThePapersTitles() {
        Plugin moco = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("moco")).findFirst().orElseThrow();
        assertInstanceOf(MocoPlugin.class, moco);
        assertEquals(ModalignApi.VERSION, moco.apiVersion());
        assertTrue(moco.losses().stream().anyMatch(f -> f.name().equals("moco")
                && f.description().contains("Momentum Contrast for Unsupervised Visual Representation Learning")));
        assertTrue(moco.augmentations().stream().anyMatch(f -> f.name().equals("contriever-crop")
                && f.description().contains("Unsupervised Dense Information Retrieval with Contrastive Learning")));
    }
}
