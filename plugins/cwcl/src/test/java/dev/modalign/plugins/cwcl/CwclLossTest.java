package dev.modalign.plugins.cwcl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.StepContext;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.Tensors;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * CwclLoss against reference values that plugins/cwcl/src/test/python/make_reference.py computed
 * with numpy in float64 (hand-derived gradients, checked there against finite differences), and its
 * targets, metrics, parameters and validation.
 */
class CwclLossTest {

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

    record ReferenceFile(String description, List<ReferenceCase> cases) {}

    private NDManager manager;

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    static Stream<Arguments> referenceCases() throws IOException {
        Gson gson = new GsonBuilder().setFieldNamingPolicy(FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES).create();
        try (InputStream stream = CwclLossTest.class.getResourceAsStream("/cwcl_reference.json");
                Reader reader = new InputStreamReader(stream, StandardCharsets.UTF_8)) {
            List<ReferenceCase> cases = gson.fromJson(reader, ReferenceFile.class).cases();
            // A fixed scale cannot sit above the cap (only an optimiser step on the parameter can put it there).
            return cases.stream().flatMap(c -> c.logitScale() > Math.log(c.maxLogitScale())
                    ? Stream.of(Arguments.of(Named.of(c.name(), c), true))
                    : Stream.of(Arguments.of(Named.of(c.name(), c), true), Arguments.of(Named.of(c.name(), c), false)));
        }
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
            NDArray a = step.create(toFloat(reference.a()));
            NDArray b = step.create(toFloat(reference.b()));
            NDArray t = step.create(toFloat(reference.t()));
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            t.setRequiresGradient(true);
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            towers.put(FIRST, new TowerOutput(a));
            towers.put(SECOND, new TowerOutput(b));
            if (thirdTower) {
                towers.put(TEACHER, new TowerOutput(t));
            }
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(new EncodedBatch(towers, null), step(step));
                collector.backward(output.value());
            }
            Tensors.assertClose(flatten(reference.targets()), CwclLoss.targets(t).toFloatArray(), REFERENCE_TOLERANCE,
                    reference.name() + " row-normalised weights");
            Tensors.assertClose(new float[] {(float) reference.loss()}, new float[] {output.value().getFloat()},
                    REFERENCE_TOLERANCE, reference.name() + " loss");
            Tensors.assertClose(flatten(reference.gradA()), a.getGradient().toFloatArray(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the first tower's raw embeddings");
            Tensors.assertClose(flatten(reference.gradB()), b.getGradient().toFloatArray(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the second tower's raw embeddings");
            if (thirdTower) {
                assertEquals(0f, t.getGradient().abs().sum().getFloat(), "no gradient reaches the frozen teacher");
            }
            if (learnable) {
                Tensors.assertClose(new float[] {(float) reference.gradLogitScale()},
                        new float[] {loss.parameters().get(0).getArray().getGradient().getFloat()},
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
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            towers.put(FIRST, new TowerOutput(step.create(a)));
            towers.put(SECOND, new TowerOutput(step.create(b)));
            towers.put(TEACHER, new TowerOutput(step.create(new float[][] {{0, 2, 1}, {0, -2, -1}})));
            float actual = loss.compute(new EncodedBatch(towers, null), step(step)).value().getFloat();
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
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            towers.put(FIRST, new TowerOutput(a));
            towers.put(SECOND, new TowerOutput(b));
            // Pairs (0, 1) alike (w = 1), (0, 2) and (1, 2) orthogonal (w = 1/2): mean over the 6 ordered pairs 2/3.
            towers.put(TEACHER, new TowerOutput(step.create(new float[][] {{1, 0}, {2, 0}, {0, 1}})));
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(new EncodedBatch(towers, null), step(step));
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
            loss.afterStep(new EncodedBatch(Map.of(FIRST, new TowerOutput(step.eye(2))), null), step(step));
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
        ComponentContext unequal = new TowersContext(List.of(FIRST, SECOND), Map.of(FIRST, 8, SECOND, 16, TEACHER, 4));
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
        Loss loss = CwclPlugin.CWCL.create(params, context(List.of(FIRST, SECOND)));
        for (Parameter parameter : loss.parameters()) {
            parameter.initialize(manager, DataType.FLOAT32);
        }
        return loss;
    }

    /** The loss's towers; every tower of the run, the teacher included, has an embedding size. */
    private static ComponentContext context(List<String> towers) {
        return new TowersContext(towers, Map.of(FIRST, 4, SECOND, 4, TEACHER, 4));
    }

    /** A run's towers as the host shows them to a loss: its own towers, and the embedding size of every tower. */
    record TowersContext(List<String> towers, Map<String, Integer> embedDims) implements ComponentContext {

        @Override
        public long seed() {
            return 7;
        }

        @Override
        public int embedDim(String tower) {
            Integer dim = embedDims.get(tower);
            if (dim == null) {
                throw new IllegalArgumentException("no tower '" + tower + "'; towers: " + embedDims.keySet());
            }
            return dim;
        }

        @Override
        public InputSpec input() {
            return null;
        }

        @Override
        public Path cacheDir() {
            return Path.of(System.getProperty("java.io.tmpdir"));
        }

        @Override
        public Path baseDir() {
            return Path.of(".");
        }
    }

    private static StepContext step(NDManager step) {
        return new StepContext(0, 0, 1, new Random(0), step, true);
    }

    private static float[][] toFloat(double[][] rows) {
        float[][] values = new float[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            values[i] = new float[rows[i].length];
            for (int j = 0; j < rows[i].length; j++) {
                values[i][j] = (float) rows[i][j];
            }
        }
        return values;
    }

    private static float[] flatten(double[][] rows) {
        return Arrays.stream(toFloat(rows)).reduce(new float[0], CwclLossTest::concat);
    }

    private static float[] concat(float[] first, float[] second) {
        float[] joined = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, joined, first.length, second.length);
        return joined;
    }
}
