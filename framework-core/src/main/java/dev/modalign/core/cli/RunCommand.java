package dev.modalign.core.cli;

import dev.modalign.core.compose.RunComposer;
import dev.modalign.core.compose.RunModule;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.stage.Stages;
import dev.modalign.core.sweep.SweepRunner;
import dev.modalign.core.config.YamlDocument;
import dev.modalign.core.train.RunResult;
import dev.modalign.core.train.Trainer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code modalign run FILE}: trains and evaluates an experiment, recording the run. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Train and evaluate an experiment, recording the run (parameters, metrics, checkpoint).")
final class RunCommand implements Callable<Integer> {

    @Parameters(paramLabel = "FILE", description = "The experiment YAML file.")
    Path file;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--tracking-uri", paramLabel = "URI",
            description = "A tracking server; overrides tracking.uri and $MLFLOW_TRACKING_URI.")
    String trackingUri;

    @Option(names = "--runs-dir", paramLabel = "DIR",
            description = "The embedded store's directory; overrides tracking.dir (default: runs).")
    Path runsDir;

    @Option(names = "--set", paramLabel = "PATH=VALUE",
            description = "Override a value of the experiment, e.g. --set train.epochs=2 --set losses.0.temperature=0.1 "
                    + "(repeatable; the value is YAML).")
    java.util.List<String> assignments = new java.util.ArrayList<>();

    @Option(names = "--device", paramLabel = "DEVICE", description = "auto, cpu or gpu; overrides train.device.")
    String device;

    @Option(names = "--result-file", paramLabel = "FILE", hidden = true,
            description = "Write the run's id, status and final metrics to FILE as JSON (a sweep's trials do).")
    Path resultFile;
    @Option(names = "--resume", arity = "0..1", fallbackValue = "latest", paramLabel = "RUN_ID|DIR",
            description = "Continue a run from its newest checkpoint that loads, in the same run of the tracker: a run id"
                    + " (as printed, or MLflow's), a run's or a checkpoint's directory, or nothing for the experiment's run"
                    + " with the latest checkpoint. FILE must be the experiment the run started with.")
    String resume;

    @Override
    public Integer call() {
        java.io.PrintStream out = System.out;
        PluginRegistry registry = plugins.load(System.err);
        String uri = trackingUri != null ? trackingUri : System.getenv("MLFLOW_TRACKING_URI");
        org.yaml.snakeyaml.nodes.Node root = YamlDocument.read(file);
        if (Stages.present(root)) {
            return stages(registry, root, uri, out);
        }
        RunModule module = new RunModule(registry, file, new RunModule.Overrides(uri, runsDir, device, assignments),
                Cache.directory(), out);
        com.google.inject.Injector injector = Main.injector(module);
        RunPlan plan = injector.getInstance(RunPlan.class);
        if (plan.spec().sweep() != null) {
            return sweep(injector, plan, uri, out);
        }
        Trainer trainer = injector.getInstance(Trainer.class);
        RunResult result;
        try {
            result = trainer.run(resume);
        } catch (RuntimeException | Error e) {
            writeResult(trainer.runId(), Main.unwrap(e) instanceof dev.modalign.core.RunStopped ? "KILLED" : "FAILED",
                    Map.of(), Main.unwrap(e).getMessage());
            throw e;
        } finally {
            injector.getInstance(dev.modalign.api.Tracker.class).close();
        }
        Map<String, Double> metrics = new java.util.LinkedHashMap<>(result.metrics());
        metrics.put("train/final_loss", result.finalLoss());
        metrics.put("train/steps_per_sec", result.stepsPerSecond());
        writeResult(result.runId(), "FINISHED", metrics, result.failures().isEmpty() ? null
                : "evaluators failed: " + result.failures());
        printResult(out, result);
        return result.failures().isEmpty() ? Main.OK : Main.FAILURE;
    }

    /** Runs the file's stages in order, each its own run; a stage's init_from: stage:... names an earlier one's run. */
    private int stages(PluginRegistry registry, org.yaml.snakeyaml.nodes.Node root, String uri, java.io.PrintStream out) {
        java.util.List<Stages.Stage> stages = Stages.of(root, file.toString());
        Map<String, String> runIds = new java.util.LinkedHashMap<>();
        RunResult result = null;
        for (Stages.Stage stage : stages) {
            Stages.resolve(stage, stages, name -> "run:" + runIds.get(name), file.toString());
            java.util.List<String> sets = new java.util.ArrayList<>(assignments);
            sets.add(0, "tracking.run_name=" + Stages.runName(stage, file.getFileName().toString()));
            org.yaml.snakeyaml.nodes.Node document = dev.modalign.core.config.Overrides.apply(stage.document(), sets);
            out.printf("%nstage %d/%d: %s%n", stage.index() + 1, stages.size(), stage.name());
            RunModule module = new RunModule(registry, file, document, new RunModule.Overrides(uri, runsDir, device),
                    Cache.directory(), out);
            com.google.inject.Injector injector = Main.injector(module);
            Trainer trainer = injector.getInstance(Trainer.class);
            try {
                result = trainer.run();
            } catch (RuntimeException | Error e) {
                writeResult(trainer.runId(), "FAILED", Map.of(), "stage " + stage.name() + ": " + Main.unwrap(e).getMessage());
                throw e;
            } finally {
                injector.getInstance(dev.modalign.api.Tracker.class).close();
            }
            runIds.put(stage.name(), result.runId());
            printResult(out, result);
            if (!result.failures().isEmpty()) {
                out.println("stage " + stage.name() + ": evaluators failed; the next stages go on");
            }
        }
        Map<String, Double> metrics = new java.util.LinkedHashMap<>(result.metrics());
        metrics.put("train/final_loss", result.finalLoss());
        writeResult(result.runId(), "FINISHED", metrics, null);
        out.println();
        runIds.forEach((stage, id) -> out.println("stage " + stage + ": run " + id));
        return Main.OK;
    }

    /** Runs the file's sweep: trials in child processes under a parent run. */
    private int sweep(com.google.inject.Injector injector, RunPlan plan, String uri, java.io.PrintStream out) {
        java.util.List<String> runOptions = new java.util.ArrayList<>();
        if (uri != null) {
            runOptions.addAll(java.util.List.of("--tracking-uri", uri));
        }
        if (runsDir != null) {
            runOptions.addAll(java.util.List.of("--runs-dir", runsDir.toAbsolutePath().toString()));
        }
        if (device != null) {
            runOptions.addAll(java.util.List.of("--device", device));
        }
        for (Path directory : plugins.directories()) {
            runOptions.addAll(java.util.List.of("--plugin-dir", directory.toAbsolutePath().toString()));
        }
        dev.modalign.api.Tracker tracker = injector.getInstance(dev.modalign.api.Tracker.class);
        SweepRunner.Result result;
        try {
            result = new SweepRunner(plan, tracker, injector.getInstance(RunComposer.class), out)
                    .run(new SweepRunner.Options(assignments, runOptions));
        } finally {
            tracker.close();
        }
        return result.failed() == 0 ? Main.OK : Main.FAILURE;
    }

    /** The outcome a sweep reads back from its trial; nothing when no --result-file was asked for. */
    private void writeResult(String runId, String status, Map<String, Double> metrics, String message) {
        if (resultFile == null) {
            return;
        }
        com.google.gson.JsonObject json = new com.google.gson.JsonObject();
        json.addProperty("run_id", runId);
        json.addProperty("status", status);
        com.google.gson.JsonObject values = new com.google.gson.JsonObject();
        metrics.forEach(values::addProperty);
        json.add("metrics", values);
        json.addProperty("message", message);
        try {
            java.nio.file.Path temporary = resultFile.resolveSibling(resultFile.getFileName() + ".tmp");
            java.nio.file.Files.writeString(temporary, new com.google.gson.GsonBuilder().serializeNulls()
                    .serializeSpecialFloatingPointValues().create().toJson(json));
            java.nio.file.Files.move(temporary, resultFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (java.io.IOException e) {
            System.err.println("warning: could not write the result file " + resultFile + ": " + e.getMessage());
        }
    }

    static void printResult(java.io.PrintStream out, RunResult result) {
        out.println();
        out.printf("trained %d steps in %.1f s (%.2f steps/s), final loss %.4f%n", result.steps(), result.seconds(),
                result.stepsPerSecond(), result.finalLoss());
        if (!result.metrics().isEmpty()) {
            int width = result.metrics().keySet().stream().mapToInt(String::length).max().orElse(10);
            out.printf("%-" + width + "s  %s%n", "metric", "value");
            for (Map.Entry<String, Double> metric : result.metrics().entrySet()) {
                out.printf("%-" + width + "s  %.4f%n", metric.getKey(), metric.getValue());
            }
        }
        result.failures().forEach((name, message) -> out.println("evaluator " + name + " FAILED: " + message));
        out.println("run " + result.runId() + " recorded in " + result.location());
    }
}
