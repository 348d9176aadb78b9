package dev.modalign.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.inject.Guice;
import dev.modalign.core.Experiments;
import dev.modalign.core.RunFailure;
import dev.modalign.core.compose.RunModule;
import dev.modalign.core.plugin.PluginLoader;
import dev.modalign.core.plugin.PluginRegistry;
import java.io.IOException;
import java.io.PrintStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop's mechanics, on the test plugin's small components. */
class TrainerTest {

    static PluginRegistry registry;

    @TempDir
    Path dir;

    @BeforeAll
    static void loadPlugins() {
        registry = PluginLoader.load(List.of());
    }

    private RunResult run(String yaml) {
        Path file = Experiments.write(dir, "experiment.yaml", yaml);
        RunModule module = new RunModule(registry, file, new RunModule.Overrides(null, dir.resolve("runs"), "cpu"), dir,
                new PrintStream(new ByteArrayOutputStream()));
        return Guice.createInjector(module).getInstance(Trainer.class).run();
    }

    private static List<JsonObject> records(Path runDir) throws IOException {
        try (Stream<String> lines = Files.lines(runDir.resolve("records.jsonl"))) {
            return lines.map(line -> JsonParser.parseString(line).getAsJsonObject()).toList();
        }
    }

    private static String status(Path runDir) throws IOException {
        return JsonParser.parseString(Files.readString(runDir.resolve("run.json"))).getAsJsonObject().get("status").getAsString();
    }

    @Test
    void trainingAlignsTheTowersAndRecordsTheRun() throws IOException {
        RunResult result = run(Experiments.TINY);
        assertEquals(12, result.steps(), "3 epochs of 64 records in batches of 16");
        double cosine = result.metrics().get("eval/mean-cosine/cosine");
        assertTrue(cosine > 0.5, "held-out pairs should align after training, mean cosine " + cosine);

        Path runDir = Path.of(result.location());
        assertEquals("FINISHED", status(runDir));
        List<JsonObject> records = records(runDir);
        for (int i = 0; i < records.size(); i++) {
            assertEquals(i + 1, records.get(i).get("seq").getAsLong(), "records are numbered in order");
        }
        JsonObject params = records.stream().filter(r -> r.get("kind").getAsString().equals("params")).findFirst()
                .orElseThrow().getAsJsonObject("data");
        assertEquals("0.5", params.get("losses.0.temperature").getAsString());
        assertEquals("-1", params.get("losses.0.poison_at").getAsString(), "defaults are recorded too");
        JsonObject tags = records.stream().filter(r -> r.get("kind").getAsString().equals("tags")).findFirst()
                .orElseThrow().getAsJsonObject("data");
        assertEquals("1.2.3", tags.get("modalign.plugin.core-test").getAsString());
        assertTrue(tags.get("modalign.data.train").getAsString().startsWith("pairs("));
        long lossPoints = records.stream().filter(r -> r.get("kind").getAsString().equals("metric")
                && r.getAsJsonObject("data").get("key").getAsString().equals("train/loss")).count();
        assertEquals(12, lossPoints, "log_every 1 logs every step");
        assertTrue(Files.isRegularFile(runDir.resolve("artifacts/config/resolved.yaml")));
        assertTrue(Files.size(runDir.resolve("artifacts/checkpoint/a.params")) > 0);
        assertTrue(Files.readString(runDir.resolve("artifacts/config/resolved.yaml")).contains("poison_at: -1"));
    }

    /** TINY with a_m, the momentum copy of tower a, read by a second loss and an evaluator. */
    static String withMomentumTower(double momentum) {
        return Experiments.TINY
                .replace("  b: {modality: {type: vector, size: 8}, encoder: linear}\n",
                        "  b: {modality: {type: vector, size: 8}, encoder: linear}\n"
                                + "  a_m: {modality: {type: vector, size: 8}, encoder: {type: linear, embed_dim: 8}, momentum_of: a,"
                                + " momentum: " + momentum + "}\n")
                .replace("  - {type: align, towers: [a, b], temperature: 0.5}\n",
                        "  - {type: align, towers: [a, b], temperature: 0.5}\n  - {type: align, towers: [a_m, b], temperature: 0.5}\n")
                .replace("  - {type: mean-cosine, towers: [a, b]}\n",
                        "  - {type: mean-cosine, towers: [a, b]}\n  - {type: mean-cosine, towers: [a_m, b]}\n");
    }

    private String trainingLine(String yaml) {
        Path file = Experiments.write(dir, "experiment.yaml", yaml);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RunModule module = new RunModule(registry, file, new RunModule.Overrides(null, dir.resolve("runs"), "cpu"), dir,
                new PrintStream(out, true));
        Guice.createInjector(module).getInstance(Trainer.class).run();
        return out.toString().lines().filter(l -> l.startsWith("training ")).findFirst().orElseThrow();
    }

    @Test
    void aMomentumTowerIsNotInTheOptimiserAndWithMomentumZeroIsItsTowerAfterEveryStep() throws IOException {
        String yaml = withMomentumTower(0.0);
        assertTrue(yaml.contains("momentum_of: a") && yaml.contains("towers: [a_m, b]"), yaml);
        String plain = trainingLine(Experiments.TINY);
        String momentum = trainingLine(yaml);
        assertEquals(plain.replaceFirst(".* (\\d+) parameters.*", "$1"), momentum.replaceFirst(".* (\\d+) parameters.*", "$1"),
                "the optimiser sees the same parameters with the momentum copy as without: " + plain + " / " + momentum);
        // theta_k = 0 theta_k + 1 theta_q after each optimiser step: the copy ends as its tower, bit for bit, which it
        // would not if the optimiser (AdamW with its own moments) moved it, or if it were updated before the step.
        RunResult result = run(yaml);
        Path artifacts = Path.of(result.location()).resolve("artifacts/checkpoint");
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(artifacts.resolve("a.params")),
                Files.readAllBytes(artifacts.resolve("a_m.params"))), "a_m's weights are a's");
        assertEquals(result.metrics().get("eval/mean-cosine/cosine"), result.metrics().get("eval/mean-cosine_2/cosine"));
    }

    @Test
    void aMomentumTowerLagsItsTowerAndReadsItsField() throws IOException {
        RunResult result = run(withMomentumTower(0.9));
        Path artifacts = Path.of(result.location()).resolve("artifacts/checkpoint");
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(artifacts.resolve("a.params")),
                Files.readAllBytes(artifacts.resolve("a_m.params"))), "a_m lags a");
        double online = result.metrics().get("eval/mean-cosine/cosine");
        double lagging = result.metrics().get("eval/mean-cosine_2/cosine");
        assertTrue(lagging > 0.3, "a_m reads a's field and follows a, so it aligns with b too: " + lagging + " vs " + online);
    }

    @Test
    void aTorchScriptModuleBecomesAFrozenTowerOutOfTheOptimiser() throws Exception {
        Files.copy(dev.modalign.core.compose.TorchScriptEncoderTest.resource("linear8.pt"), dir.resolve("linear8.pt"));
        String yaml = Experiments.TINY.replace("encoder: {type: linear, embed_dim: 8}}",
                "encoder: {type: linear, embed_dim: 8}, init_from: 'torchscript:linear8.pt'}");
        assertTrue(yaml.contains("torchscript:linear8.pt"), yaml);
        String plain = trainingLine(Experiments.TINY);
        String scripted = trainingLine(yaml);
        assertEquals("144", plain.replaceFirst(".* (\\d+) parameters.*", "$1"), plain);
        assertEquals("72", scripted.replaceFirst(".* (\\d+) parameters.*", "$1"), "only tower b is trained: " + scripted);
        RunResult result = run(yaml);
        assertEquals(12, result.steps());
        assertTrue(Double.isFinite(result.metrics().get("eval/mean-cosine/cosine")));
        assertTrue(records(Path.of(result.location())).stream().filter(r -> r.get("kind").getAsString().equals("tags"))
                .map(r -> r.getAsJsonObject("data").get("modalign.init_from.a")).anyMatch(t -> t != null
                        && t.getAsString().equals("torchscript:linear8.pt")), "the run records where tower a came from");
    }

    @Test
    void aTorchScriptModuleThatDoesNotFitFailsTheRunNamingTheFileAndShapes() throws Exception {
        Files.copy(dev.modalign.core.compose.TorchScriptEncoderTest.resource("linear8to4.pt"), dir.resolve("small.pt"));
        String yaml = Experiments.TINY.replace("encoder: {type: linear, embed_dim: 8}}",
                "encoder: {type: linear, embed_dim: 8}, init_from: 'torchscript:small.pt'}");
        RunFailure failure = assertThrows(RunFailure.class, () -> run(yaml));
        assertTrue(failure.getMessage().contains("towers.a.init_from: the TorchScript module " + dir.resolve("small.pt"))
                && failure.getMessage().contains("float32 [B, 8]"), failure.getMessage());
    }

    @Test
    void aMissingTorchScriptFileIsALocatedError() {
        String yaml = Experiments.TINY.replace("encoder: {type: linear, embed_dim: 8}}",
                "encoder: {type: linear, embed_dim: 8}, init_from: 'torchscript:nope.pt'}");
        Path file = Experiments.write(dir, "experiment.yaml", yaml);
        dev.modalign.core.UserError error = assertThrows(dev.modalign.core.UserError.class,
                () -> new dev.modalign.core.compose.RunComposer(registry, dir).compose(file));
        assertTrue(error.getMessage().contains("towers.a.init_from no TorchScript file " + dir.resolve("nope.pt")),
                error.getMessage());
    }

    @Test
    void theResolvedConfigurationIsAnExperimentThatResolvesToItself() throws IOException {
        RunResult result = run(Experiments.TINY.replace("epochs: 3", "epochs: 1"));
        String resolved = Files.readString(Path.of(result.location()).resolve("artifacts/config/resolved.yaml"));
        Path again = Experiments.write(dir, "resolved.yaml", resolved);
        dev.modalign.core.compose.RunPlan plan = new dev.modalign.core.compose.RunComposer(registry, dir).compose(again);
        String twice = new Provenance("x", "y").resolvedYaml(plan);
        assertEquals(resolved.substring(resolved.indexOf('\n')), twice.substring(twice.indexOf('\n')),
                "re-resolving the recorded configuration changes nothing");
    }

    @Test
    void theSameSeedGivesTheSameMetrics() {
        RunResult first = run(Experiments.TINY);
        RunResult second = run(Experiments.TINY);
        assertEquals(first.finalLoss(), second.finalLoss(), 0.0);
        assertEquals(first.metrics(), second.metrics());
        RunResult otherSeed = run(Experiments.TINY.replace("seed: 3", "seed: 4"));
        assertTrue(otherSeed.finalLoss() != first.finalLoss(), "another seed should train differently");
    }

    @Test
    void aNonFiniteLossStopsTheRunNamingTheStepAndTheLoss() throws IOException {
        RunFailure failure = assertThrows(RunFailure.class, () -> run(Experiments.TINY.replace("temperature: 0.5",
                "temperature: 0.5, poison_at: 5")));
        assertTrue(failure.getMessage().startsWith("the loss is not finite at step 5 (align = NaN)"), failure.getMessage());
        try (Stream<Path> runs = Files.list(dir.resolve("runs/tiny"))) {
            Path runDir = runs.findFirst().orElseThrow();
            assertEquals("FAILED", status(runDir));
        }
    }

    @Test
    void aFailingEvaluatorKeepsTheOthersResultsAndFailsTheRunNamingItsPlugin() throws IOException {
        RunResult result = run(Experiments.TINY.replace("  - {type: mean-cosine, towers: [a, b]}",
                "  - {type: mean-cosine, towers: [a, b], fail: true}\n  - {type: mean-cosine, towers: [b, a]}"));
        assertTrue(result.failures().containsKey("mean-cosine"), result.failures().toString());
        assertTrue(result.metrics().containsKey("eval/mean-cosine_2/cosine"), result.metrics().toString());
        Path runDir = Path.of(result.location());
        assertEquals("FAILED", status(runDir));
        assertEquals("evaluator 'mean-cosine' (plugin core-test 1.2.3) failed: java.lang.IllegalStateException: told to fail",
                message(runDir));
    }

    private static String message(Path runDir) throws IOException {
        return JsonParser.parseString(Files.readString(runDir.resolve("run.json"))).getAsJsonObject().get("message")
                .getAsString();
    }

    private Path onlyRun() throws IOException {
        try (Stream<Path> runs = Files.list(dir.resolve("runs/tiny"))) {
            return runs.findFirst().orElseThrow();
        }
    }

    @Test
    void aLossThatThrowsInAStepFailsTheRunNamingTheLossItsPluginAndTheStep() throws IOException {
        RunFailure failure = assertThrows(RunFailure.class, () -> run(Experiments.TINY.replace("temperature: 0.5",
                "temperature: 0.5, throw_at: 3")));
        assertEquals("loss 'align' (plugin core-test 1.2.3) failed at step 3: java.lang.IllegalStateException: told to"
                + " throw at step 3", failure.getMessage());
        assertEquals("FAILED", status(onlyRun()));
        assertEquals(failure.getMessage(), message(onlyRun()));
    }

    @Test
    void aPluginThatThrowsInItsConstructorIsALocatedErrorNamingThePlugin() {
        Path file = Experiments.write(dir, "experiment.yaml", Experiments.TINY.replace("temperature: 0.5",
                "temperature: 0.5, fail_create: true"));
        dev.modalign.core.UserError error = assertThrows(dev.modalign.core.UserError.class,
                () -> new dev.modalign.core.compose.RunComposer(registry, dir).compose(file));
        assertTrue(error.getMessage().matches("(?s).*experiment\\.yaml:\\d+:\\d+ losses\\[0\\] \\[align\\] plugin 'core-test' failed"
                + " to create it: java.lang.IllegalStateException: told to fail in the constructor.*"), error.getMessage());
    }

    @Test
    void aNaNInTheInputsIsCaughtAtItsStepNamingTheTowerAndItsField() throws IOException {
        RunFailure failure = assertThrows(RunFailure.class, () -> run(Experiments.TINY.replace(
                "train: {source: pairs, size: 64, seed: 1}", "train: {source: pairs, size: 64, seed: 1, nan_at: 17}")));
        assertTrue(failure.getMessage().matches("the loss is not finite at step \\d+ \\(align = NaN\\): the input of tower"
                + " 'a' holds 1 NaN or infinite value \\(check the data it reads, field 'a'\\); .*"), failure.getMessage());
        long step = Long.parseLong(failure.getMessage().replaceFirst("the loss is not finite at step (\\d+) .*", "$1"));
        assertTrue(step < 4, "record 17 is in one of the first epoch's 4 batches, found step " + step);
        assertEquals("FAILED", status(onlyRun()));
    }

    @Test
    void nonFiniteGradientsWithAFiniteLossAreCaughtNamingTheParameters() {
        RunFailure failure = assertThrows(RunFailure.class, () -> run(Experiments.TINY.replace("temperature: 0.5",
                "temperature: 0.5, poison_grad_at: 4")));
        assertTrue(failure.getMessage().startsWith("the gradients are not finite at step 4 although the loss is, in tower 'a' "),
                failure.getMessage());
    }

    @Test
    void withOnNonfiniteSkipBadStepsAreSkippedCountedAndLimited() throws IOException {
        String skipping = Experiments.TINY.replace("temperature: 0.5", "temperature: 0.5, poison_at: 5")
                .replace("log_every: 1,", "log_every: 1, on_nonfinite: skip,");
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Path file = Experiments.write(dir, "experiment.yaml", skipping);
        RunModule module = new RunModule(registry, file, new RunModule.Overrides(null, dir.resolve("runs"), "cpu"), dir,
                new PrintStream(printed, true));
        RunResult result = Guice.createInjector(module).getInstance(Trainer.class).run();
        assertEquals(12, result.steps(), "the skipped step counts as taken");
        assertTrue(Double.isFinite(result.finalLoss()) && result.metrics().values().stream().allMatch(Double::isFinite),
                "no NaN reached the weights: " + result);
        assertTrue(printed.toString().contains("warning: the loss is not finite at step 5 (align = NaN): loss 'align'"
                + " (plugin core-test 1.2.3) is not finite although every embedding is; the step is skipped"), printed.toString());
        Path runDir = Path.of(result.location());
        assertEquals("FINISHED", status(runDir));
        List<JsonObject> skippedSteps = records(runDir).stream().filter(r -> r.get("kind").getAsString().equals("metric")
                && r.getAsJsonObject("data").get("key").getAsString().equals("train/skipped_steps")).toList();
        assertEquals(1, skippedSteps.size());
        assertEquals(5, skippedSteps.get(0).getAsJsonObject("data").get("step").getAsLong());
        assertTrue(records(runDir).stream().noneMatch(r -> r.get("kind").getAsString().equals("metric")
                && r.getAsJsonObject("data").get("key").getAsString().equals("train/loss")
                && r.getAsJsonObject("data").get("step").getAsLong() == 5), "a skipped step logs no loss");

        RunFailure limited = assertThrows(RunFailure.class, () -> run(skipping.replace("on_nonfinite: skip,",
                "on_nonfinite: skip, max_skipped_steps: 0,")));
        assertTrue(limited.getMessage().contains("that is 1 skipped steps, more than train.max_skipped_steps 0"),
                limited.getMessage());
    }

    @Test
    void lossesSeeTheGroupIdsOfTheirBatch() throws IOException {
        // Records of the tiny set are their own items unless the source groups them; a loss counts the items in
        // each batch of 16.
        assertEquals(List.of(16.0), itemsPerBatch(run(Experiments.TINY)));
        assertEquals(List.of(4.0), itemsPerBatch(run(Experiments.TINY.replace(
                "train: {source: pairs, size: 64, seed: 1}", "train: {source: pairs, size: 64, seed: 1, items: 4}"))));
    }

    @Test
    void lossesSeeTheInputsTheirTowersEncoded() throws IOException {
        // A loss that scores its input (a captioner's tokens, masked patches) reads each tower's collated batch.
        assertEquals(List.of(16.0), alignMetric(run(Experiments.TINY), "input_rows"));
    }

    @Test
    void lossesAreToldWhichStepsMetricsAreLogged() throws IOException {
        // 12 steps logged every 5 and at the last: steps 0, 5, 10 and 11 are the first to fourth steps a loss is
        // told its metrics are read (so that it may skip an accuracy's kernels on the others); told on every
        // step, the loss would count 1, 6, 11 and 12.
        RunResult result = run(Experiments.TINY.replace("log_every: 1", "log_every: 5"));
        assertEquals(List.of(1.0, 2.0, 3.0, 4.0), alignMetric(result, "logged_steps"));
    }

    private static List<Double> itemsPerBatch(RunResult result) throws IOException {
        return alignMetric(result, "items");
    }

    private static List<Double> alignMetric(RunResult result, String name) throws IOException {
        return records(Path.of(result.location())).stream()
                .filter(r -> r.get("kind").getAsString().equals("metric")
                        && r.getAsJsonObject("data").get("key").getAsString().equals("train/align/" + name))
                .map(r -> r.getAsJsonObject("data").get("value").getAsDouble()).distinct().toList();
    }

    @Test
    void theEvalSetReadsItsOwnFieldNames() {
        // Tower a reads field b of the held-out set: the pairs are then (b, b), whose mean cosine after
        // training differs from the (a, b) pairs'; before eval fields were honoured, it read a.
        RunResult plain = run(Experiments.TINY);
        RunResult renamed = run(Experiments.TINY.replace("eval: {source: pairs, size: 32, seed: 2}",
                "eval: {source: pairs, size: 32, seed: 2, fields: {a: b}}"));
        assertEquals(plain.finalLoss(), renamed.finalLoss(), 0.0, "training reads the same fields");
        assertNotEquals(plain.metrics().get("eval/mean-cosine/cosine"), renamed.metrics().get("eval/mean-cosine/cosine"));
        RuntimeException missing = assertThrows(RuntimeException.class, () -> run(Experiments.TINY.replace(
                "eval: {source: pairs, size: 32, seed: 2}", "eval: {source: pairs, size: 32, seed: 2, fields: {a: nope}}")));
        assertTrue(String.valueOf(missing.getMessage()).contains("no field 'nope'"), missing.getMessage());
    }

    @Test
    void aTrackerThatCannotRecordStopsTrainingSayingWhatToDo() {
        Path file = Experiments.write(dir, "experiment.yaml", Experiments.TINY);
        RunModule module = new RunModule(registry, file, new RunModule.Overrides("full://disk", dir.resolve("runs"), "cpu"),
                dir, new PrintStream(new ByteArrayOutputStream()));
        RunFailure failure = assertThrows(RunFailure.class,
                () -> Guice.createInjector(module).getInstance(Trainer.class).run());
        assertEquals("the tracker cannot record run full-1, so training stops rather than lose records: cannot write the"
                + " MLflow spool /spool/full-1/records.jsonl: No space left on device; free disk space or fix the directory,"
                + " then continue with: modalign run " + file + " --resume full-1", failure.getMessage());
        assertEquals("FAILED: " + failure.getMessage(), dev.modalign.core.testplugin.TestPlugin.FullDiskTracker.lastEnd);
    }
}
