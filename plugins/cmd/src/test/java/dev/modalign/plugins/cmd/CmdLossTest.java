package dev.modalign.plugins.cmd;

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
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * CmdLoss against reference values that plugins/cmd/src/test/python/make_reference.py computed with torch in
 * float64 (autograd gradients, F.kl_div); that the teacher distribution is what the students move towards; the
 * queues in lockstep, saved and restored; and its validation.
 */
class CmdLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("a", "b", "a_key", "b_key");

    /** One case of cmd_reference.json. */
    record ReferenceCase(String name, double temperature, double studentTemperature, double teacherTemperature,
            double distillWeight, String neighbours, boolean inBatch, double[][] a, double[][] b, double[][] aKey,
            double[][] bKey, double[][] aQueue, double[][] bQueue, double loss, double distill, double contrastive,
            double[][] gradA, double[][] gradB) {

        CmdLoss.Params params(int queueSize) {
            return new CmdLoss.Params(temperature, studentTemperature, teacherTemperature, distillWeight, queueSize,
                    neighbours.equals("same-modality") ? CmdLoss.Neighbours.SAME_MODALITY : CmdLoss.Neighbours.CROSS_MODAL,
                    inBatch);
        }
    }

    static Stream<Arguments> referenceCases() {
        return cases("/cmd_reference.json", ReferenceCase.class).stream().map(c -> Arguments.of(Named.of(c.name(), c)));
    }

    private CmdLoss newLoss(CmdLoss.Params params, int dim) {
        return (CmdLoss) LossFixtures.newLoss(CmdPlugin.CMD, params, TestContext.builder().optTowers(TOWERS, dim).build(),
                manager);
    }

    private static CmdLoss.Params defaults(int queueSize) {
        return new CmdLoss.Params(0.07, 0.1, 0.05, 1.0, queueSize, CmdLoss.Neighbours.SAME_MODALITY, true);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        Loss loss = newLoss(reference.params(64), reference.a()[0].length);
        try (NDManager step = manager.newSubManager()) {
            if (reference.aQueue().length > 0) {
                NDArray aQueue = array(step, reference.aQueue());
                NDArray bQueue = array(step, reference.bQueue());
                loss.afterStep(LossFixtures.batch(TOWERS, aQueue, bQueue, aQueue, bQueue), step(step));
            }
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            EncodedBatch batch = LossFixtures.batch(TOWERS, a, b, array(step, reference.aKey()),
                    array(step, reference.bKey()));
            LossOutput output = computeWithGradients(loss, batch, step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.distill(), output.metrics().get("distill"), REFERENCE_TOLERANCE,
                    reference.name() + " distillation term");
            assertMatches(reference.contrastive(), output.metrics().get("contrastive"), REFERENCE_TOLERANCE,
                    reference.name() + " contrastive term");
            assertMatches(reference.gradA(), a.getGradient(), REFERENCE_TOLERANCE, reference.name() + " gradient of a");
            assertMatches(reference.gradB(), b.getGradient(), REFERENCE_TOLERANCE, reference.name() + " gradient of b");
        }
    }

    @Test
    void aStudentThatAgreesWithTheOtherModalitysTeacherHasNoDistillationLoss() {
        // Memory rows e0, e1, e2 in both modalities. The teacher of a (a_key = e0) is sharp on row 0; a student b that
        // already puts its mass there costs less than one that prefers row 1; with lambda only, nothing else counts.
        CmdLoss.Params params = new CmdLoss.Params(0.07, 0.1, 0.05, 1.0, 8, CmdLoss.Neighbours.SAME_MODALITY, true);
        CmdLoss loss = newLoss(params, 3);
        try (NDManager step = manager.newSubManager()) {
            NDArray memory = step.create(new float[][] {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}});
            loss.afterStep(LossFixtures.batch(TOWERS, memory, memory, memory, memory), step(step));
            NDArray key = step.create(new float[][] {{1, 0, 0}});
            NDArray agrees = step.create(new float[][] {{1, 0, 0}});
            NDArray disagrees = step.create(new float[][] {{0, 1, 0}});
            float agreeing = loss.compute(LossFixtures.batch(TOWERS, agrees, agrees, key, key), step(step)).metrics()
                    .get("distill").getFloat();
            float disagreeing = loss.compute(LossFixtures.batch(TOWERS, agrees, disagrees, key, key), step(step))
                    .metrics().get("distill").getFloat();
            assertTrue(disagreeing > agreeing + 1, agreeing + " agreeing, " + disagreeing + " disagreeing");
        }
    }

    @Test
    void theTeacherIsDetachedAndTheDistillationTermIsZeroUntilTheQueuesHoldKeys() {
        CmdLoss loss = newLoss(defaults(8), 4);
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(3, 4));
            NDArray ak = step.randomNormal(new Shape(3, 4));
            ak.setRequiresGradient(true);
            a.setRequiresGradient(true);
            LossOutput first = computeWithGradients(loss, LossFixtures.batch(TOWERS, a, a.add(1), ak, ak.mul(2)),
                    step(step));
            assertEquals(0f, first.metrics().get("distill").getFloat());
            assertEquals(0f, first.metrics().get("queue_size").getFloat());
            loss.afterStep(LossFixtures.batch(TOWERS, a, a, ak, ak.mul(2)), step(step));
            LossOutput second = computeWithGradients(loss, LossFixtures.batch(TOWERS, a, a.add(1), ak, ak.mul(2)),
                    step(step));
            assertTrue(second.metrics().get("distill").getFloat() > 0);
            assertEquals(0f, ak.getGradient().abs().sum().getFloat(), "the momentum keys are teachers: no gradient");
        }
    }

    @Test
    void bothQueuesMoveInLockstepAndAreSavedAndRestored() throws IOException {
        CmdLoss loss = newLoss(defaults(4), 2);
        try (NDManager step = manager.newSubManager()) {
            for (int i = 0; i < 3; i++) {
                NDArray keys = step.randomNormal(new Shape(3, 2));
                loss.afterStep(LossFixtures.batch(TOWERS, keys, keys, keys, keys.neg()), step(step));
            }
        }
        float[] a = loss.queue("a_key").toFloatArray();
        float[] b = loss.queue("b_key").toFloatArray();
        assertEquals(8, a.length);
        for (int i = 0; i < a.length; i++) {
            assertEquals(-a[i], b[i], 0f, "row j of both queues is one record");
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        loss.saveState(new DataOutputStream(bytes));
        CmdLoss restored = newLoss(defaults(4), 2);
        restored.loadState(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
        assertArrayEquals(a, restored.queue("a_key").toFloatArray(), 0f);
        assertArrayEquals(b, restored.queue("b_key").toFloatArray(), 0f);
    }

    @Test
    void rejectsBadParametersAndTowersByTheirKeys() {
        CmdLoss.Neighbours same = CmdLoss.Neighbours.SAME_MODALITY;
        assertEquals("teacher_temperature", assertThrows(InvalidParamException.class,
                () -> new CmdLoss.Params(0.07, 0.05, 0.1, 1, 8, same, true)).key());
        assertEquals("student_temperature", assertThrows(InvalidParamException.class,
                () -> new CmdLoss.Params(0.07, 0, 0.05, 1, 8, same, true)).key());
        assertEquals("lambda", assertThrows(InvalidParamException.class,
                () -> new CmdLoss.Params(0.07, 0.1, 0.05, -1, 8, same, true)).key());
        assertEquals("queue_size", assertThrows(InvalidParamException.class,
                () -> new CmdLoss.Params(0.07, 0.1, 0.05, 1, 0, same, true)).key());
        for (List<String> towers : List.of(List.of("a", "b"), List.of("a", "b", "a", "c"))) {
            assertEquals("towers", assertThrows(InvalidParamException.class,
                    () -> new CmdLoss(defaults(8), TestContext.builder().optTowers(towers, 4).build())).key());
        }
    }

    @Test
    void pluginIsFoundByServiceLoaderWithThePapersTitle() {
        Plugin cmd = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("cmd")).findFirst().orElseThrow();
        assertInstanceOf(CmdPlugin.class, cmd);
        assertEquals(ModalignApi.VERSION, cmd.apiVersion());
        assertTrue(cmd.losses().stream().anyMatch(f -> f.name().equals("cmd") && f.description().contains(
                "CMD: Self-supervised 3D Action Representation Learning with Cross-modal Mutual Distillation")));
    }
}
