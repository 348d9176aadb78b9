package dev.modalign.plugins.cwcl;

import static dev.modalign.testkit.LossFixtures.batch;
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

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * CwclLoss against reference values that plugins/cwcl/src/test/python/make_reference.py computed
 * with numpy in float64 (hand-derived gradients, checked there against finite differences), and its
 * targets, metrics, parameters and validation.
 */
class CwclLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final String FIRST = "image";
    private static final String SECOND = "text";
    private static final String TEACHER = "text_teacher";

    /** One case of cwcl_reference.json; embeddings are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            double maxLogitScale,
            double logitScale,
            String teacher,
            double[][] a,
            double[][] b,
            double[][] t,
            double[][] targets,
            double loss,
            double[][] gradA,
            double[][] gradB,
            double gradLogitScale) {}

    static Stream<Arguments> referenceCases() {
        // A fixed scale cannot sit above the cap (only an optimiser step on the parameter can put it there).
        return withFlag(cases("/cwcl_reference.json", ReferenceCase.class), ReferenceCase::name,
                c -> c.logitScale() <= Math.log(c.maxLogitScale()));
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, boolean learnable) {
        boolean thirdTower = reference.teacher().equals("t");
        String teacher = thirdTower ? TEACHER : SECOND;
        Loss loss = newLoss(new CwclLoss.Params(teacher, reference.temperature(), learnable, reference.maxLogitScale()));
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.logitScale()});
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            NDArray t = array(step, reference.t());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            t.setRequiresGradient(true);
            Map<String, NDArray> towers = new LinkedHashMap<>();
            towers.put(FIRST, a);
            towers.put(SECOND, b);
            if (thirdTower) {
                towers.put(TEACHER, t);
            }
            LossOutput output = computeWithGradients(loss, batch(towers, null), step(step));
            assertMatches(reference.targets(), CwclLoss.targets(t), REFERENCE_TOLERANCE,
                    reference.name() + " row-normalised weights");
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.gradA(), a.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the first tower's raw embeddings");
            assertMatches(reference.gradB(), b.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the second tower's raw embeddings");
            if (thirdTower) {
                assertEquals(0f, t.getGradient().abs().sum().getFloat(), "no gradient reaches the frozen teacher");
            }
            if (learnable) {
                assertMatches(reference.gradLogitScale(), loss.parameters().get(0).getArray().getGradient(),
                        REFERENCE_TOLERANCE, reference.name() + " gradient with respect to logit_scale");
            }
        }
    }

    @Test
    void weightsAreOneForAlikeHalfForOrthogonalAndZeroForOppositeTeacherRows() {
        try (NDManager step = manager.newSubManager()) {
            // Rows 0 and 1 point the same way, 2 is orthogonal to them, 3 opposite to 0 and 1.
            NDArray teacher = step.create(new float[][] {{1, 0}, {3, 0}, {0, 2}, {-1, 0}});
            float[] actual = CwclLoss.targets(teacher).toFloatArray();
            double[][] weights = {{1, 1, 0.5, 0}, {1, 1, 0.5, 0}, {0.5, 0.5, 1, 0.5}, {0, 0, 0.5, 1}};
            float[] expected = new float[16];
            for (int i = 0; i < 4; i++) {
                double sum = Arrays.stream(weights[i]).sum();
                for (int j = 0; j < 4; j++) {
                    expected[i * 4 + j] = (float) (weights[i][j] / sum);
                }
            }
            Tensors.assertClose(expected, actual, 1e-6, "row-normalised weights");
        }
    }

    @Test
    void aTeacherThatSeesTwoRecordsAsOppositesGivesTheClipLoss() {
        // w = I when the teacher's two rows are antipodal, so the targets are CLIP's diagonal.
        Loss loss = newLoss(new CwclLoss.Params(TEACHER, 0.5, false, 100));
        try (NDManager step = manager.newSubManager()) {
            float[][] a = {{1, 0}, {0.6f, 0.8f}};
            float[][] b = {{0.8f, 0.6f}, {0, 1}};
            EncodedBatch batch = batch(List.of(FIRST, SECOND, TEACHER), step.create(a), step.create(b),
                    step.create(new float[][] {{0, 2, 1}, {0, -2, -1}}));
            float actual = loss.compute(batch, step(step)).value().getFloat();
            double[][] logits = new double[2][2];
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 2; j++) {
                    logits[i][j] = (a[i][0] * b[j][0] + a[i][1] * b[j][1]) / 0.5;
                }
            }
            double rows = 0;
            double columns = 0;
            for (int i = 0; i < 2; i++) {
                rows += Math.log(Math.exp(logits[i][0]) + Math.exp(logits[i][1])) - logits[i][i];
                columns += Math.log(Math.exp(logits[0][i]) + Math.exp(logits[1][i])) - logits[i][i];
            }
            assertEquals((rows + columns) / 4, actual, 1e-5);
        }
    }

    @Test
    void metricsAreTheTemperatureAndTheMeanOffDiagonalWeightWithoutGradient() {
        Loss loss = newLoss(new CwclLoss.Params(TEACHER, 0.2, true, 100));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.eye(3);
            NDArray b = step.eye(3);
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            // Pairs (0, 1) alike (w = 1), (0, 2) and (1, 2) orthogonal (w = 1/2): mean over the 6 ordered pairs 2/3.
            NDArray teacher = step.create(new float[][] {{1, 0}, {2, 0}, {0, 1}});
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch(List.of(FIRST, SECOND, TEACHER), a, b, teacher), step(step));
                for (Map.Entry<String, NDArray> metric : output.metrics().entrySet()) {
                    assertThrows(EngineException.class, () -> collector.backward(metric.getValue()),
                            "the metric " + metric.getKey() + " must be detached from the graph");
                }
            }
            assertEquals(Set.of("temperature", "offdiagonal_weight"), output.metrics().keySet());
            assertEquals(0.2, output.metrics().get("temperature").getFloat(), 1e-6);
            assertEquals(2.0 / 3, output.metrics().get("offdiagonal_weight").getFloat(), 1e-6);
        }
    }

    @Test
    void learnableTemperatureIsTheParameterLogitScaleAndAfterStepClipsIt() {
        Loss loss = newLoss(new CwclLoss.Params(TEACHER, 0.07, true, 100));
        assertEquals(1, loss.parameters().size());
        Parameter parameter = loss.parameters().get(0);
        assertEquals("logit_scale", parameter.getName());
        assertEquals(Math.log(1 / 0.07), parameter.getArray().getFloat(), 1e-6);
        try (NDManager step = manager.newSubManager()) {
            parameter.getArray().set(new float[] {(float) Math.log(1000)});
            loss.afterStep(batch(List.of(FIRST), step.eye(2)), step(step));
            assertEquals((float) Math.log(100), parameter.getArray().getFloat());
        }
        assertEquals(List.of(), newLoss(new CwclLoss.Params(TEACHER, 0.07, false, 100)).parameters());
    }

    @Test
    void rejectsBadTowersAndTeachersByTheirKeys() {
        CwclLoss.Params params = new CwclLoss.Params(TEACHER, 0.07, true, 100);
        for (List<String> towers : List.of(List.of(FIRST), List.of(FIRST, SECOND, TEACHER), List.of(FIRST, FIRST))) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> new CwclLoss(params, context(towers)));
            assertEquals("towers", error.key());
        }
        InvalidParamException unknown = assertThrows(InvalidParamException.class, () -> new CwclLoss(
                new CwclLoss.Params("audio", 0.07, true, 100), context(List.of(FIRST, SECOND))));
        assertEquals("teacher", unknown.key());
        assertTrue(unknown.getMessage().contains("'audio'"), unknown.getMessage());
        ComponentContext unequal = TestContext.builder().optTowers(List.of(FIRST, SECOND))
                .optEmbedDims(Map.of(FIRST, 8, SECOND, 16, TEACHER, 4)).build();
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> new CwclLoss(params, unequal)).key());
        assertEquals("teacher",
                assertThrows(InvalidParamException.class, () -> new CwclLoss.Params(" ", 0.07, true, 100)).key());
        assertEquals("teacher",
                assertThrows(InvalidParamException.class, () -> new CwclLoss.Params(null, 0.07, true, 100)).key());
        for (double temperature : new double[] {0, -1, Double.NaN, 0.001}) {
            assertEquals("temperature", assertThrows(InvalidParamException.class,
                    () -> new CwclLoss.Params(TEACHER, temperature, true, 100)).key());
        }
        assertEquals("max_logit_scale", assertThrows(InvalidParamException.class,
                () -> new CwclLoss.Params(TEACHER, 0.07, true, 0)).key());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin cwcl = plugins.stream().filter(p -> p.name().equals("cwcl")).findFirst().orElseThrow();
        assertInstanceOf(CwclPlugin.class, cwcl);
        assertEquals(ModalignApi.VERSION, cwcl.apiVersion());
        assertEquals(List.of("cwcl"), cwcl.losses().stream().map(f -> f.name()).toList());
    }

    private Loss newLoss(CwclLoss.Params params) {
        return LossFixtures.newLoss(CwclPlugin.CWCL, params, context(List.of(FIRST, SECOND)), manager);
    }

    /** The loss's towers; every tower of the run, the teacher included, has an embedding size. */
    private static ComponentContext context(List<String> towers) {
        return TestContext.builder().optTowers(towers).optEmbedDims(Map.of(FIRST, 4, SECOND, 4, TEACHER, 4)).build();
    }
}
