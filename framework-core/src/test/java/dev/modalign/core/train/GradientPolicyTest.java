package dev.modalign.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.inject.Guice;
import dev.modalign.core.Experiments;
import dev.modalign.core.compose.RunModule;
import dev.modalign.core.plugin.PluginLoader;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.testplugin.TestPlugin.Mix;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * train.gradient: a gradient policy gets each loss term's gradients (from one forward pass and a backward
 * pass per term) and what it returns is what the optimiser applies.
 */
class GradientPolicyTest {

    /** Three towers, two pairwise losses sharing tower b: term 0 reads a and b, term 1 reads b and c. */
    static final String TWO_TERMS = """
            name: two-terms
            seed: 3
            data:
              train: {source: pairs, size: 64, seed: 1, fields: {a: a, b: b, c: a}}
            towers:
              a: {modality: {type: vector, size: 8}, encoder: {type: linear, embed_dim: 8}}
              b: {modality: {type: vector, size: 8}, encoder: linear}
              c: {modality: {type: vector, size: 8}, encoder: linear}
            losses:
              - {type: align, towers: [a, b], temperature: 0.5}
              - {type: align, towers: [b, c], temperature: 1.0, weight: 0.7}
            train: {epochs: 2, batch_size: 16, workers: 1, log_every: 1, grad_clip: 0, optimizer: {lr: 0.05, weight_decay: 0.0}}
            """;

    static PluginRegistry registry;

    @TempDir
    Path dir;

    @BeforeAll
    static void loadPlugins() {
        registry = PluginLoader.load(List.of());
    }

    private RunResult run(String yaml) {
        Path file = Experiments.write(dir, "experiment-" + System.nanoTime() + ".yaml", yaml);
        RunModule module = new RunModule(registry, file, new RunModule.Overrides(null, dir.resolve("runs"), "cpu"), dir,
                new PrintStream(new ByteArrayOutputStream()));
        return Guice.createInjector(module).getInstance(Trainer.class).run();
    }

    /** step -> value of a metric the run logged. */
    private static Map<Long, Double> metric(RunResult result, String key) throws IOException {
        Map<Long, Double> values = new TreeMap<>();
        try (Stream<String> lines = Files.lines(Path.of(result.location()).resolve("records.jsonl"))) {
            lines.map(line -> JsonParser.parseString(line).getAsJsonObject())
                    .filter(r -> r.get("kind").getAsString().equals("metric"))
                    .map(r -> r.getAsJsonObject("data"))
                    .filter(d -> d.get("key").getAsString().equals(key))
                    .forEach(d -> values.put(d.get("step").getAsLong(), d.get("value").getAsDouble()));
        }
        return values;
    }

    private static JsonObject params(RunResult result) throws IOException {
        try (Stream<String> lines = Files.lines(Path.of(result.location()).resolve("records.jsonl"))) {
            return lines.map(line -> JsonParser.parseString(line).getAsJsonObject())
                    .filter(r -> r.get("kind").getAsString().equals("params")).findFirst().orElseThrow()
                    .getAsJsonObject("data");
        }
    }

    @Test
    void summingThePerTermGradientsTrainsAsBackPropagatingTheSum() throws IOException {
        RunResult plain = run(TWO_TERMS);
        RunResult summed = run(TWO_TERMS.replace("grad_clip: 0,", "grad_clip: 0, gradient: {type: mix, coefficients: [1, 1]},"));
        Map<Long, Double> plainLoss = metric(plain, "train/loss");
        Map<Long, Double> summedLoss = metric(summed, "train/loss");
        Map<Long, Double> plainNorm = metric(plain, "train/grad_norm");
        Map<Long, Double> summedNorm = metric(summed, "train/grad_norm");
        assertEquals(8, plainLoss.size());
        assertEquals(plainLoss.keySet(), summedLoss.keySet());
        for (long step : plainLoss.keySet()) {
            assertEquals(plainLoss.get(step), summedLoss.get(step), 1e-5, "train/loss at step " + step);
            assertEquals(plainNorm.get(step), summedNorm.get(step), 1e-5 * Math.max(1, plainNorm.get(step)),
                    "train/grad_norm at step " + step);
        }
        assertEquals(8.0, metric(summed, "train/gradient/calls").size(), "the policy's metrics are logged");
        assertFalse(params(plain).keySet().stream().anyMatch(k -> k.startsWith("train.gradient")),
                "without a policy the recorded parameters are as before");
        assertEquals("mix", params(summed).get("train.gradient.type").getAsString());
    }

    @Test
    void anUnknownPolicyIsALocatedErrorNamingTheKnownOnes() {
        Path file = Experiments.write(dir, "unknown.yaml", TWO_TERMS.replace("grad_clip: 0,",
                "grad_clip: 0, gradient: {type: mixx},"));
        dev.modalign.core.UserError error = org.junit.jupiter.api.Assertions.assertThrows(dev.modalign.core.UserError.class,
                () -> new dev.modalign.core.compose.RunComposer(registry, dir).compose(file));
        assertTrue(error.getMessage().contains("train.gradient"), error.getMessage());
        assertTrue(error.getMessage().contains("mix"), error.getMessage());
    }

    @Test
    void eachTermGetsOnlyTheParametersItReadsAndTheOptimiserSeesTheCombination() throws IOException {
        RunResult result = run(TWO_TERMS.replace("grad_clip: 0,", "grad_clip: 0, max_steps: 1, gradient: {type: mix, "
                + "coefficients: [2, -1]},"));
        assertEquals(List.of("align", "align_2"), Mix.lastTerms);
        List<String> parameters = Mix.lastParameters;
        List<List<float[]>> given = Mix.lastGiven;
        double sumOfSquares = 0;
        for (int p = 0; p < parameters.size(); p++) {
            String tower = parameters.get(p).substring(0, parameters.get(p).indexOf('/'));
            float[] first = given.get(0).get(p);
            float[] second = given.get(1).get(p);
            assertEquals(tower.equals("c"), first == null, parameters.get(p) + " in term 0 (reads a, b)");
            assertEquals(tower.equals("a"), second == null, parameters.get(p) + " in term 1 (reads b, c)");
            int length = first != null ? first.length : second.length;
            boolean anyNonZero = false;
            for (int i = 0; i < length; i++) {
                double combined = (first == null ? 0 : 2.0 * first[i]) - (second == null ? 0 : second[i]);
                assertEquals(combined, Mix.lastReturned.get(p)[i], 1e-6);
                sumOfSquares += combined * combined;
                anyNonZero |= combined != 0;
            }
            assertTrue(anyNonZero, parameters.get(p) + " got a gradient");
        }
        assertNotNull(given.get(1).get(parameters.indexOf(parameters.stream().filter(n -> n.startsWith("b/")).findFirst()
                .orElseThrow())), "tower b is shared");
        double seen = metric(result, "train/grad_norm").get(0L);
        assertEquals(Math.sqrt(sumOfSquares), seen, 1e-5 * Math.max(1, seen),
                "the gradient norm the optimiser clips and applies is that of the combined gradient");
    }
}
