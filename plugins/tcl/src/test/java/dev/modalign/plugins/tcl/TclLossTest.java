package dev.modalign.plugins.tcl;

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
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.EncodedBatch;
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
 * TclLoss against reference values that plugins/tcl/src/test/python/make_reference.py computed with
 * numpy in float64 (hand-derived gradients, checked there against finite differences), and its
 * masking, metrics, temperature and validation.
 */
class TclLossTest {

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
        try (InputStream stream = TclLossTest.class.getResourceAsStream("/tcl_reference.json");
                Reader reader = new InputStreamReader(stream, StandardCharsets.UTF_8)) {
            List<ReferenceCase> cases = gson.fromJson(reader, ReferenceFile.class).cases();
            // A fixed temperature is the parameter's value; only an optimiser step can leave it outside the clamp.
            return cases.stream().flatMap(c -> c.temperatureValue() != (float) c.temperature()
                    ? Stream.of(Arguments.of(Named.of(c.name(), c), true))
                    : Stream.of(Arguments.of(Named.of(c.name(), c), true), Arguments.of(Named.of(c.name(), c), false)));
        }
    }

    @ParameterizedTest(name = "{0}, learnable={1}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossTermsAndGradients(ReferenceCase reference, boolean learnable) {
        TclLoss.Params params = new TclLoss.Params(reference.temperature(), learnable, reference.minTemperature(),
                reference.maxTemperature(), reference.views(), reference.lmiTowers(), reference.cmaWeight(),
                reference.imcWeight(), reference.lmiWeight());
        Map<String, Integer> dims = new LinkedHashMap<>();
        reference.embeddings().forEach((name, rows) -> dims.put(name, rows[0].length));
        Loss loss = newLoss(params, new TowersContext(reference.towers(), dims));
        if (learnable) {
            loss.parameters().get(0).getArray().set(new float[] {(float) reference.temperatureValue()});
        }
        try (NDManager step = manager.newSubManager()) {
            Map<String, TowerOutput> towers = new LinkedHashMap<>();
            Map<String, NDArray> embeddings = new LinkedHashMap<>();
            Map<String, NDArray> tokens = new LinkedHashMap<>();
            for (Map.Entry<String, double[][]> entry : reference.embeddings().entrySet()) {
                String name = entry.getKey();
                NDArray embedding = step.create(toFloat(entry.getValue()));
                embedding.setRequiresGradient(true);
                embeddings.put(name, embedding);
                double[][][] tokenValues = reference.tokens().get(name);
                if (tokenValues == null) {
                    towers.put(name, new TowerOutput(embedding));
                    continue;
                }
                NDArray tokenArray = step.create(flatten(tokenValues),
                        new Shape(tokenValues.length, tokenValues[0].length, tokenValues[0][0].length));
                tokenArray.setRequiresGradient(true);
                tokens.put(name, tokenArray);
                double[][] mask = reference.masks().get(name);
                towers.put(name, new TowerOutput(embedding, tokenArray, mask == null ? null : step.create(toFloat(mask))));
            }
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(new EncodedBatch(towers, null), step(step));
                collector.backward(output.value());
            }
            String name = reference.name();
            Tensors.assertClose(new float[] {(float) reference.loss()}, new float[] {output.value().getFloat()},
                    REFERENCE_TOLERANCE, name + " loss");
            for (Map.Entry<String, Double> term : reference.terms().entrySet()) {
                double weight = switch (term.getKey()) {
                    case "cma" -> reference.cmaWeight();
                    case "imc" -> reference.imcWeight();
                    default -> reference.lmiWeight();
                };
                if (weight > 0) {
                    Tensors.assertClose(new float[] {term.getValue().floatValue()},
                            new float[] {output.metrics().get(term.getKey()).getFloat()}, REFERENCE_TOLERANCE,
                            name + " term " + term.getKey());
                }
            }
            for (Map.Entry<String, NDArray> embedding : embeddings.entrySet()) {
                Tensors.assertClose(flatten(reference.gradEmbeddings().get(embedding.getKey())),
                        embedding.getValue().getGradient().toFloatArray(), REFERENCE_TOLERANCE,
                        name + " gradient with respect to the embeddings of " + embedding.getKey());
            }
            for (Map.Entry<String, NDArray> tokenArray : tokens.entrySet()) {
                Tensors.assertClose(flatten(reference.gradTokens().get(tokenArray.getKey())),
                        tokenArray.getValue().getGradient().toFloatArray(), REFERENCE_TOLERANCE,
                        name + " gradient with respect to the tokens of " + tokenArray.getKey());
            }
            if (learnable) {
                Tensors.assertClose(new float[] {(float) reference.gradTemperature()},
                        new float[] {loss.parameters().get(0).getArray().getGradient().getFloat()},
                        REFERENCE_TOLERANCE, name + " gradient with respect to the temperature");
            }
        }
    }

    @Test
    void paddingTokensChangeNothing() {
        Loss loss = newLoss(new TclLoss.Params(0.1, false, 0.001, 0.5, Map.of("text", "text_view"), List.of("text"),
                1, 1, 1), new TowersContext(TOWERS, DIMS));
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
                1, 1, 1), new TowersContext(TOWERS, DIMS));
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
                1, 1, 0), new TowersContext(TOWERS, DIMS));
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
                1, 1, 1), new TowersContext(TOWERS, DIMS));
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
                List.of(), 1, 1, 1), new TowersContext(TOWERS, DIMS)).parameters());
    }

    @Test
    void rejectsBadTowersViewsAndWeightsByTheirKeys() {
        TowersContext context = new TowersContext(TOWERS, DIMS);
        Map<String, String> views = Map.of("image", "image_view");
        assertKey("towers", () -> new TclLoss(params(views, List.of(), 1), new TowersContext(List.of("image"), DIMS)));
        assertKey("towers", () -> new TclLoss(params(views, List.of(), 1),
                new TowersContext(List.of("image", "image"), DIMS)));
        assertKey("views.audio", () -> new TclLoss(params(Map.of("audio", "image_view"), List.of(), 1), context));
        assertKey("views.image", () -> new TclLoss(params(Map.of("image", "text"), List.of(), 1), context));
        assertKey("views.text", () -> new TclLoss(params(Map.of("image", "image_view", "text", "image_view"),
                List.of(), 1), context));
        assertKey("views.image", () -> new TclLoss(params(Map.of("image", "nowhere"), List.of(), 1), context));
        assertKey("views.image", () -> new TclLoss(params(views, List.of(), 1),
                new TowersContext(TOWERS, Map.of("image", 4, "text", 4, "image_view", 8))));
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
        Loss loss = TclPlugin.TCL.create(params, context);
        for (Parameter parameter : loss.parameters()) {
            parameter.initialize(manager, DataType.FLOAT32);
        }
        return loss;
    }

    private static EncodedBatch batch(NDArray image, NDArray text, NDArray textView, NDArray tokens, NDArray mask) {
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        towers.put("image", new TowerOutput(image));
        towers.put("text", new TowerOutput(text));
        towers.put("text_view", new TowerOutput(textView, tokens, mask));
        return new EncodedBatch(towers, null);
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

    private static float[] flatten(double[][][] blocks) {
        int size = blocks[0].length * blocks[0][0].length;
        float[] values = new float[blocks.length * size];
        for (int i = 0; i < blocks.length; i++) {
            System.arraycopy(flatten(blocks[i]), 0, values, i * size, size);
        }
        return values;
    }
}
