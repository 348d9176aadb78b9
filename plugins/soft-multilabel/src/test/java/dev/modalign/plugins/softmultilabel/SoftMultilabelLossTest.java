package dev.modalign.plugins.softmultilabel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.NoParams;
import dev.modalign.api.Plugin;
import dev.modalign.api.StepContext;
import dev.modalign.api.TowerOutput;
import dev.modalign.plugins.softmultilabel.SoftMultilabelLoss.Similarity;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SoftMultilabelLoss against reference values that
 * plugins/soft-multilabel/src/test/python/make_reference.py computed with numpy in float64
 * (hand-derived gradients, checked there against finite differences); the label sets reach the loss
 * as the multi-hot modality collates them, through a tower with the identity encoder, and, where each
 * record has one label, also as the batch's class indices.
 */
class SoftMultilabelLossTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final String FIRST = "image";
    private static final String SECOND = "text";
    private static final String TAGS = "tags";

    /** One case of soft_multilabel_reference.json; embeddings are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double temperature,
            String similarity,
            int classes,
            List<List<Integer>> labelSets,
            double[][] a,
            double[][] b,
            double loss,
            double[][] gradA,
            double[][] gradB) {}

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
        try (InputStream stream = SoftMultilabelLossTest.class.getResourceAsStream("/soft_multilabel_reference.json");
                Reader reader = new InputStreamReader(stream, StandardCharsets.UTF_8)) {
            List<ReferenceCase> cases = gson.fromJson(reader, ReferenceFile.class).cases();
            // One label per record can also come as the batch's class indices.
            return cases.stream().flatMap(c -> c.labelSets().stream().allMatch(s -> s.size() == 1)
                    ? Stream.of(Arguments.of(Named.of(c.name(), c), true), Arguments.of(Named.of(c.name(), c), false))
                    : Stream.of(Arguments.of(Named.of(c.name(), c), true)));
        }
    }

    @ParameterizedTest(name = "{0}, labels_tower={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, boolean labelsTower) {
        Loss loss = newLoss(new SoftMultilabelLoss.Params(reference.temperature(),
                Similarity.valueOf(reference.similarity().toUpperCase(Locale.ROOT)),
                labelsTower ? TAGS : null), reference.classes());
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.create(toFloat(reference.a()));
            NDArray b = step.create(toFloat(reference.b()));
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            towers.put(FIRST, new TowerOutput(a));
            towers.put(SECOND, new TowerOutput(b));
            NDArray labels = null;
            if (labelsTower) {
                towers.put(TAGS, new TowerOutput(multiHot(reference.labelSets(), reference.classes(), step)));
            } else {
                labels = step.create(reference.labelSets().stream().mapToLong(s -> s.get(0)).toArray());
            }
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(new EncodedBatch(towers, labels), step(step));
                collector.backward(output.value());
            }
            Tensors.assertClose(new float[] {(float) reference.loss()}, new float[] {output.value().getFloat()},
                    REFERENCE_TOLERANCE, reference.name() + " loss");
            Tensors.assertClose(flatten(reference.gradA()), a.getGradient().toFloatArray(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the first tower's raw embeddings");
            Tensors.assertClose(flatten(reference.gradB()), b.getGradient().toFloatArray(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the second tower's raw embeddings");
        }
    }

    /** The label sets as the multi-hot modality decodes and collates them, then the identity encoder's block. */
    private static NDArray multiHot(List<List<Integer>> labelSets, int classes, NDManager manager) {
        MultiHotModality modality = new MultiHotModality(new MultiHotModality.Params(classes), null);
        List<LabelSet> examples = labelSets.stream()
                .map(s -> modality.decode(String.join(";", s.stream().map(String::valueOf).toList()), "test"))
                .toList();
        NDArray collated = modality.collate(examples, manager).singletonOrThrow();
        IdentityEncoder encoder = new IdentityEncoder(new NoParams(), TestContext.builder().optInput(modality.spec()).build());
        encoder.block().initialize(manager, DataType.FLOAT32, collated.getShape());
        return encoder.block().forward(new ParameterStore(manager, false), new NDList(collated), false).singletonOrThrow();
    }

    @Test
    void labelOverlapIsLoggedAndNoGradientReachesTheLabels() {
        Loss loss = newLoss(new SoftMultilabelLoss.Params(0.1, Similarity.JACCARD, TAGS), 4);
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(3, 4));
            NDArray b = step.randomNormal(new Shape(3, 4));
            a.setRequiresGradient(true);
            // {0, 1} and {1, 2}: 1/3; {0, 1} and {3}: 0; {1, 2} and {3}: 0; mean over 6 ordered pairs 1/9.
            NDArray tags = step.create(new float[][] {{1, 1, 0, 0}, {0, 1, 1, 0}, {0, 0, 0, 1}});
            tags.setRequiresGradient(true);
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            towers.put(FIRST, new TowerOutput(a));
            towers.put(SECOND, new TowerOutput(b));
            towers.put(TAGS, new TowerOutput(tags));
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(new EncodedBatch(towers, null), step(step));
                collector.backward(output.value());
            }
            assertEquals(1.0 / 9, output.metrics().get("label_overlap").getFloat(), 1e-6);
            assertEquals(0f, tags.getGradient().abs().sum().getFloat(), "the labels get no gradient");
            assertTrue(a.getGradient().abs().sum().getFloat() > 0);
        }
    }

    @Test
    void missingOrNegativeLabelsAreErrorsThatSayWhatToDo() {
        Loss fromBatch = newLoss(new SoftMultilabelLoss.Params(0.1, Similarity.JACCARD, null), 4);
        Loss fromTower = newLoss(new SoftMultilabelLoss.Params(0.1, Similarity.COSINE, TAGS), 4);
        try (NDManager step = manager.newSubManager()) {
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            towers.put(FIRST, new TowerOutput(step.randomNormal(new Shape(2, 4))));
            towers.put(SECOND, new TowerOutput(step.randomNormal(new Shape(2, 4))));
            towers.put(TAGS, new TowerOutput(step.create(new float[][] {{1, 0, 0, 0}, {0, -1, 0, 0}})));
            DataException missing = assertThrows(DataException.class,
                    () -> fromBatch.compute(new EncodedBatch(towers, null), step(step)));
            assertTrue(missing.getMessage().contains("labels_tower") && missing.getMessage().contains("label:"),
                    missing.getMessage());
            DataException negative = assertThrows(DataException.class,
                    () -> fromTower.compute(new EncodedBatch(towers, null), step(step)));
            assertTrue(negative.getMessage().contains("tower 'tags'") && negative.getMessage().contains("-1.0"),
                    negative.getMessage());
        }
    }

    @Test
    void rejectsBadTowersAndParametersByTheirKeys() {
        Map<String, Integer> dims = Map.of(FIRST, 4, SECOND, 4, TAGS, 5);
        SoftMultilabelLoss.Params params = new SoftMultilabelLoss.Params(0.1, Similarity.JACCARD, TAGS);
        for (List<String> towers : List.of(List.of(FIRST), List.of(FIRST, FIRST), List.of(FIRST, SECOND, TAGS))) {
            assertKey("towers", () -> new SoftMultilabelLoss(params, new TowersContext(towers, dims)));
        }
        assertKey("towers", () -> new SoftMultilabelLoss(params,
                new TowersContext(List.of(FIRST, SECOND), Map.of(FIRST, 4, SECOND, 8, TAGS, 5))));
        assertKey("labels_tower", () -> new SoftMultilabelLoss(
                new SoftMultilabelLoss.Params(0.1, Similarity.JACCARD, "labels"), new TowersContext(List.of(FIRST, SECOND), dims)));
        assertKey("labels_tower", () -> new SoftMultilabelLoss(
                new SoftMultilabelLoss.Params(0.1, Similarity.JACCARD, SECOND), new TowersContext(List.of(FIRST, SECOND), dims)));
        assertKey("labels_tower", () -> new SoftMultilabelLoss.Params(0.1, Similarity.JACCARD, " "));
        assertKey("temperature", () -> new SoftMultilabelLoss.Params(0, Similarity.JACCARD, null));
        assertKey("similarity", () -> new SoftMultilabelLoss.Params(0.1, null, null));
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsComponents() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin plugin = plugins.stream().filter(p -> p.name().equals("soft-multilabel")).findFirst().orElseThrow();
        assertInstanceOf(SoftMultilabelPlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals(List.of("soft-multilabel"), plugin.losses().stream().map(f -> f.name()).toList());
        assertEquals(List.of("multi-hot"), plugin.modalities().stream().map(f -> f.name()).toList());
        assertEquals(List.of("identity"), plugin.encoders().stream().map(f -> f.name()).toList());
    }

    private static void assertKey(String key, Executable executable) {
        InvalidParamException error = assertThrows(InvalidParamException.class, executable);
        assertEquals(key, error.key(), error.getMessage());
    }

    private static Loss newLoss(SoftMultilabelLoss.Params params, int classes) {
        ComponentContext context = new TowersContext(List.of(FIRST, SECOND), Map.of(FIRST, 4, SECOND, 4, TAGS, classes));
        return SoftMultilabelPlugin.SOFT_MULTILABEL.create(params, context);
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
        int width = rows[0].length;
        float[] values = new float[rows.length * width];
        for (int i = 0; i < rows.length; i++) {
            for (int j = 0; j < width; j++) {
                values[i * width + j] = (float) rows[i][j];
            }
        }
        return values;
    }
}
