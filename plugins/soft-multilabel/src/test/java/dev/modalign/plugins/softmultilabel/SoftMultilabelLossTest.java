package dev.modalign.plugins.softmultilabel;

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

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.NoParams;
import dev.modalign.api.Plugin;
import dev.modalign.plugins.softmultilabel.SoftMultilabelLoss.Similarity;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
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
class SoftMultilabelLossTest extends ManagerPerTest {

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

    static Stream<Arguments> referenceCases() {
        // One label per record can also come as the batch's class indices.
        return withFlag(cases("/soft_multilabel_reference.json", ReferenceCase.class), ReferenceCase::name,
                c -> c.labelSets().stream().allMatch(s -> s.size() == 1));
    }

    @ParameterizedTest(name = "{0}, labels_tower={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference, boolean labelsTower) {
        Loss loss = newLoss(new SoftMultilabelLoss.Params(reference.temperature(),
                Similarity.valueOf(reference.similarity().toUpperCase(Locale.ROOT)),
                labelsTower ? TAGS : null), reference.classes());
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            Map<String, NDArray> towers = new LinkedHashMap<>();
            towers.put(FIRST, a);
            towers.put(SECOND, b);
            NDArray labels = null;
            if (labelsTower) {
                towers.put(TAGS, multiHot(reference.labelSets(), reference.classes(), step));
            } else {
                labels = step.create(reference.labelSets().stream().mapToLong(s -> s.get(0)).toArray());
            }
            LossOutput output = computeWithGradients(loss, batch(towers, labels), step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.gradA(), a.getGradient(), REFERENCE_TOLERANCE,
                    reference.name() + " gradient with respect to the first tower's raw embeddings");
            assertMatches(reference.gradB(), b.getGradient(), REFERENCE_TOLERANCE,
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
            LossOutput output = computeWithGradients(loss, batch(List.of(FIRST, SECOND, TAGS), a, b, tags), step(step));
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
            EncodedBatch batch = batch(List.of(FIRST, SECOND, TAGS), step.randomNormal(new Shape(2, 4)),
                    step.randomNormal(new Shape(2, 4)), step.create(new float[][] {{1, 0, 0, 0}, {0, -1, 0, 0}}));
            DataException missing = assertThrows(DataException.class, () -> fromBatch.compute(batch, step(step)));
            assertTrue(missing.getMessage().contains("labels_tower") && missing.getMessage().contains("label:"),
                    missing.getMessage());
            DataException negative = assertThrows(DataException.class, () -> fromTower.compute(batch, step(step)));
            assertTrue(negative.getMessage().contains("tower 'tags'") && negative.getMessage().contains("-1.0"),
                    negative.getMessage());
        }
    }

    @Test
    void rejectsBadTowersAndParametersByTheirKeys() {
        Map<String, Integer> dims = Map.of(FIRST, 4, SECOND, 4, TAGS, 5);
        SoftMultilabelLoss.Params params = new SoftMultilabelLoss.Params(0.1, Similarity.JACCARD, TAGS);
        for (List<String> towers : List.of(List.of(FIRST), List.of(FIRST, FIRST), List.of(FIRST, SECOND, TAGS))) {
            assertKey("towers", () -> new SoftMultilabelLoss(params, context(towers, dims)));
        }
        assertKey("towers", () -> new SoftMultilabelLoss(params,
                context(List.of(FIRST, SECOND), Map.of(FIRST, 4, SECOND, 8, TAGS, 5))));
        assertKey("labels_tower", () -> new SoftMultilabelLoss(
                new SoftMultilabelLoss.Params(0.1, Similarity.JACCARD, "labels"),
                context(List.of(FIRST, SECOND), dims)));
        assertKey("labels_tower", () -> new SoftMultilabelLoss(
                new SoftMultilabelLoss.Params(0.1, Similarity.JACCARD, SECOND), context(List.of(FIRST, SECOND), dims)));
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
        return SoftMultilabelPlugin.SOFT_MULTILABEL.create(params,
                context(List.of(FIRST, SECOND), Map.of(FIRST, 4, SECOND, 4, TAGS, classes)));
    }

    /** The loss's towers, and the embedding size of every tower of the run (the tower of label vectors among them). */
    static ComponentContext context(List<String> towers, Map<String, Integer> embedDims) {
        return TestContext.builder().optTowers(towers).optEmbedDims(embedDims).build();
    }
}
