package dev.modalign.plugins.tcl;

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
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
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
 * TclLoss against reference values that plugins/tcl/src/test/python/make_reference.py computed with
 * numpy in float64 (hand-derived gradients, checked there against finite differences), and its
 * masking, metrics, temperature and validation.
 */
class TclLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("image", "text");
    private static final Map<String, Integer> DIMS = Map.of("image", 4, "text", 4, "image_view", 4, "text_view", 4);

    /** One case of tcl_reference.json; inputs are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            List<String> towers,
            Map<String, String> views,
            List<String> lmiTowers,
            Map<String, double[][]> masks,
            double temperature,
            double temperatureValue,
            double minTemperature,
            double maxTemperature,
            double cmaWeight,
            double imcWeight,
            double lmiWeight,
            Map<String, double[][]> embeddings,
            Map<String, double[][][]> tokens,
            double loss,
            Map<String, Double> terms,
            Map<String, double[][]> gradEmbeddings,
            Map<String, double[][][]> gradTokens,
            double gradTemperature) {}

    static Stream<Arguments> referenceCases() {
        // A fixed temperature is the parameter's value; only an optimiser step can leave it outside the clamp.
        return withFlag(cases("/tcl_reference.json", ReferenceCase.class), ReferenceCase::name,
                c -> c.temperatureValue() == (float) c.temperature());
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossTermsAndGradients(ReferenceCase reference, boolean learnable) {
        TclLoss.Params params = new TclLoss.Params(reference.temperature(), learnable, reference.minTemperature(),
                reference.maxTemperature(), reference.views(), reference.lmiTowers(), reference.cmaWeight(),
                reference.imcWeight(), reference.lmiWeight());
        Map<String, Integer> dims = new LinkedHashMap<>();
        reference.embeddings().forEach((name, rows) -> dims.put(name, rows[0].length));
        Loss loss = newLoss(params, context(reference.towers(), dims));
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.temperatureValue()});
        }
        try (NDManager step = manager.newSubManager()) {
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            Map<String, NDArray> embeddings = new LinkedHashMap<>();
            Map<String, NDArray> tokens = new LinkedHashMap<>();
            for (Map.Entry<String, double[][]> entry : reference.embeddings().entrySet()) {
                String name = entry.getKey();
                NDArray embedding = array(step, entry.getValue());
                embedding.setRequiresGradient(true);
                embeddings.put(name, embedding);
                double[][][] tokenValues = reference.tokens().get(name);
                if (tokenValues == null) {
                    towers.put(name, new TowerOutput(embedding));
                    continue;
                }
                NDArray tokenArray = array(step, tokenValues);
                tokenArray.setRequiresGradient(true);
                tokens.put(name, tokenArray);
                double[][] mask = reference.masks().get(name);
                towers.put(name, new TowerOutput(embedding, tokenArray, mask == null ? null : array(step, mask)));
            }
            LossOutput output = computeWithGradients(loss, new EncodedBatch(towers, null), step(step));
            String name = reference.name();
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, name + " loss");
            for (Map.Entry<String, Double> term : reference.terms().entrySet()) {
                double weight = switch (term.getKey()) {
                    case "cma" -> reference.cmaWeight();
                    case "imc" -> reference.imcWeight();
                    default -> reference.lmiWeight();
                };
                if (weight > 0) {
                    assertMatches(term.getValue(), output.metrics().get(term.getKey()), REFERENCE_TOLERANCE,
                            name + " term " + term.getKey());
                }
            }
            for (Map.Entry<String, NDArray> embedding : embeddings.entrySet()) {
                assertMatches(reference.gradEmbeddings().get(embedding.getKey()), embedding.getValue().getGradient(),
                        REFERENCE_TOLERANCE,
                        name + " gradient with respect to the embeddings of " + embedding.getKey());
            }
            for (Map.Entry<String, NDArray> tokenArray : tokens.entrySet()) {
                assertMatches(reference.gradTokens().get(tokenArray.getKey()), tokenArray.getValue().getGradient(),
                        REFERENCE_TOLERANCE, name + " gradient with respect to the tokens of " + tokenArray.getKey());
            }
            if (learnable) {
                assertMatches(reference.gradTemperature(), loss.parameters().get(0).getArray().getGradient(),
                        REFERENCE_TOLERANCE, name + " gradient with respect to the temperature");
            }
        }
    }

    @Test
    void paddingTokensChangeNothing() {
        Loss loss = newLoss(new TclLoss.Params(0.1, false, 0.001, 0.5, Map.of("text", "text_view"), List.of("text"),
                1, 1, 1), context(TOWERS, DIMS));
        try (NDManager step = manager.newSubManager()) {
            Engine.getInstance().setRandomSeed(5);
            NDArray image = step.randomNormal(new Shape(3, 4));
            NDArray text = step.randomNormal(new Shape(3, 4));
            NDArray view = step.randomNormal(new Shape(3, 4));
            NDArray tokens = step.randomNormal(new Shape(3, 2, 4));
            NDArray mask = step.create(new float[][] {{1, 1}, {1, 0}, {1, 1}});
            float plain = loss.compute(batch(image, text, view, tokens, mask), step(step)).value().getFloat();
            // Two more positions of wild values, all padding, and the padded position of row 1 changed too.
            NDArray padded = NDArrays.concat(new NDList(tokens, step.randomNormal(new Shape(3, 2, 4)).mul(100)), 1);
            padded.set(new NDIndex("1, 1, :"), 50f);
            NDArray paddedMask = step.create(new float[][] {{1, 1, 0, 0}, {1, 0, 0, 0}, {1, 1, 0, 0}});
            float withPadding = loss.compute(batch(image, text, view, padded, paddedMask), step(step)).value().getFloat();
            assertEquals(plain, withPadding, 1e-5 * Math.abs(plain));
            float unmasked = loss.compute(batch(image, text, view, padded, null), step(step)).value().getFloat();
            assertTrue(Math.abs(unmasked - plain) > 1e-3, "the same tokens unmasked must change the loss");
        }
    }

    @Test
    void aTowerWithoutTokensInLmiTowersIsAnErrorNamingItAndTheFixes() {
        Loss loss = newLoss(new TclLoss.Params(0.07, true, 0.001, 0.5, Map.of("image", "image_view"), List.of(),
                1, 1, 1), context(TOWERS, DIMS));
        try (NDManager step = manager.newSubManager()) {
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            for (String name : List.of("image", "text", "image_view")) {
                towers.put(name, new TowerOutput(step.randomNormal(new Shape(2, 4))));
            }
            IllegalStateException error = assertThrows(IllegalStateException.class,
                    () -> loss.compute(new EncodedBatch(towers, null), step(step)));
            assertTrue(error.getMessage().contains("tower 'image_view' (the local features of 'image')"),
                    error.getMessage());
            assertTrue(error.getMessage().contains("lmi_towers") && error.getMessage().contains("lmi_weight: 0"),
                    error.getMessage());
        }
        // Without LMI, the same batch is fine.
        Loss withoutLmi = newLoss(new TclLoss.Params(0.07, true, 0.001, 0.5, Map.of("image", "image_view"), List.of(),
                1, 1, 0), context(TOWERS, DIMS));
        try (NDManager step = manager.newSubManager()) {
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            for (String name : List.of("image", "text", "image_view")) {
                towers.put(name, new TowerOutput(step.randomNormal(new Shape(2, 4))));
            }
            LossOutput output = withoutLmi.compute(new EncodedBatch(towers, null), step(step));
            assertEquals(Set.of("cma", "imc", "temperature"), output.metrics().keySet());
        }
    }

    @Test
    void metricsAreDetachedAndTheTemperatureIsClampedAfterEachStep() {
        Loss loss = newLoss(new TclLoss.Params(0.07, true, 0.001, 0.5, Map.of("text", "text_view"), List.of("text"),
                1, 1, 1), context(TOWERS, DIMS));
        Parameter temperature = loss.parameters().get(0);
        assertEquals("temperature", temperature.getName());
        assertEquals(0.07f, temperature.getArray().getFloat());
        try (NDManager step = manager.newSubManager()) {
            NDArray image = step.randomNormal(new Shape(3, 4));
            NDArray text = step.randomNormal(new Shape(3, 4));
            image.setRequiresGradient(true);
            text.setRequiresGradient(true);
            EncodedBatch batch = batch(image, text, step.randomNormal(new Shape(3, 4)),
                    step.randomNormal(new Shape(3, 2, 4)), null);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                LossOutput output = loss.compute(batch, step(step));
                assertEquals(Set.of("cma", "imc", "lmi", "temperature"), output.metrics().keySet());
                for (Map.Entry<String, NDArray> metric : output.metrics().entrySet()) {
                    assertThrows(EngineException.class, () -> collector.backward(metric.getValue()),
                            "the metric " + metric.getKey() + " must be detached from the graph");
                }
            }
            temperature.getArray().set(new float[] {0.9f});
            loss.afterStep(batch, step(step));
            assertEquals(0.5f, temperature.getArray().getFloat());
            temperature.getArray().set(new float[] {1e-5f});
            loss.afterStep(batch, step(step));
            assertEquals(0.001f, temperature.getArray().getFloat());
            temperature.getArray().set(new float[] {0.2f});
            loss.afterStep(batch, step(step));
            assertEquals(0.2f, temperature.getArray().getFloat(), "a temperature inside the clamp is left alone");
        }
        assertEquals(List.of(), newLoss(new TclLoss.Params(0.07, false, 0.001, 0.5, Map.of("text", "text_view"),
                List.of(), 1, 1, 1), context(TOWERS, DIMS)).parameters());
    }

    @Test
    void rejectsBadTowersViewsAndWeightsByTheirKeys() {
        ComponentContext context = context(TOWERS, DIMS);
        Map<String, String> views = Map.of("image", "image_view");
        assertKey("towers", () -> new TclLoss(params(views, List.of(), 1), context(List.of("image"), DIMS)));
        assertKey("towers", () -> new TclLoss(params(views, List.of(), 1),
                context(List.of("image", "image"), DIMS)));
        assertKey("views.audio", () -> new TclLoss(params(Map.of("audio", "image_view"), List.of(), 1), context));
        assertKey("views.image", () -> new TclLoss(params(Map.of("image", "text"), List.of(), 1), context));
        assertKey("views.text", () -> new TclLoss(params(Map.of("image", "image_view", "text", "image_view"),
                List.of(), 1), context));
        assertKey("views.image", () -> new TclLoss(params(Map.of("image", "nowhere"), List.of(), 1), context));
        assertKey("views.image", () -> new TclLoss(params(views, List.of(), 1),
                context(TOWERS, Map.of("image", 4, "text", 4, "image_view", 8))));
        InvalidParamException noViews = assertThrows(InvalidParamException.class,
                () -> new TclLoss(params(Map.of(), List.of(), 1), context));
        assertEquals("views", noViews.key());
        assertTrue(noViews.getMessage().contains("imc_weight: 0"), noViews.getMessage());
        // No views is fine without IMC.
        assertEquals(1, new TclLoss(params(Map.of(), List.of(), 0), context).parameters().size());
        assertKey("lmi_towers", () -> new TclLoss(params(views, List.of("audio"), 1), context));
        assertKey("lmi_towers", () -> new TclLoss(params(views, List.of("text", "text"), 1), context));
        assertKey("temperature", () -> new TclLoss.Params(0.7, true, 0.001, 0.5, views, List.of(), 1, 1, 1));
        assertKey("min_temperature", () -> new TclLoss.Params(0.07, true, 0, 0.5, views, List.of(), 1, 1, 1));
        assertKey("max_temperature", () -> new TclLoss.Params(0.07, true, 0.01, 0.005, views, List.of(), 1, 1, 1));
        assertKey("imc_weight", () -> new TclLoss.Params(0.07, true, 0.001, 0.5, views, List.of(), 1, -1, 1));
        assertKey("cma_weight", () -> new TclLoss.Params(0.07, true, 0.001, 0.5, views, List.of(), 0, 0, 0));
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin tcl = plugins.stream().filter(p -> p.name().equals("tcl")).findFirst().orElseThrow();
        assertInstanceOf(TclPlugin.class, tcl);
        assertEquals(ModalignApi.VERSION, tcl.apiVersion());
        assertEquals(List.of("tcl"), tcl.losses().stream().map(f -> f.name()).toList());
    }

    private static TclLoss.Params params(Map<String, String> views, List<String> lmiTowers, double imcWeight) {
        return new TclLoss.Params(0.07, true, 0.001, 0.5, views, lmiTowers, 1, imcWeight, 1);
    }

    private static void assertKey(String key, org.junit.jupiter.api.function.Executable executable) {
        InvalidParamException error = assertThrows(InvalidParamException.class, executable);
        assertEquals(key, error.key(), error.getMessage());
    }

    private Loss newLoss(TclLoss.Params params, ComponentContext context) {
        return LossFixtures.newLoss(TclPlugin.TCL, params, context, manager);
    }

    /** The loss's towers, and the embedding size of every tower of the run (the views among them). */
    static ComponentContext context(List<String> towers, Map<String, Integer> embedDims) {
        return TestContext.builder().optTowers(towers).optEmbedDims(embedDims).build();
    }

    private static EncodedBatch batch(NDArray image, NDArray text, NDArray textView, NDArray tokens, NDArray mask) {
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        towers.put("image", new TowerOutput(image));
        towers.put("text", new TowerOutput(text));
        towers.put("text_view", new TowerOutput(textView, tokens, mask));
        return new EncodedBatch(towers, null);
    }
}
