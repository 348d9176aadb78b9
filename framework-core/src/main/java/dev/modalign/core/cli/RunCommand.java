package dev.modalign.core.cli;

import dev.modalign.core.compose.RunModule;
import dev.modalign.core.plugin.PluginRegistry;
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
        RunModule module = new RunModule(registry, file, new RunModule.Overrides(uri, runsDir, device, assignments),
                Cache.directory(), out);
        com.google.inject.Injector injector = Main.injector(module);
        Trainer trainer = injector.getInstance(Trainer.class);
        RunResult result;
        try {
            result = trainer.run(resume);
        } finally {
            injector.getInstance(dev.modalign.api.Tracker.class).close();
        }
        printResult(out, result);
        return result.failures().isEmpty() ? Main.OK : Main.FAILURE;
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
