package dev.modalign.core.cli;

import com.google.inject.Injector;
import dev.modalign.api.RecordedRun;
import dev.modalign.api.Tracker;
import dev.modalign.core.UserError;
import dev.modalign.core.compose.Resolved;
import dev.modalign.core.compose.RunModule;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.compose.Trackers;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.track.LocalTracker;
import dev.modalign.core.train.Provenance;
import dev.modalign.core.train.RunResult;
import dev.modalign.core.train.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code modalign rerun RUN_ID}: runs a recorded run again from what its tracker holds, and says what differs. */
@Command(name = "rerun", mixinStandardHelpOptions = true,
        description = "Run a recorded run again from its recorded resolved configuration (plugin versions and seed "
                + "included), record the new run beside it, and list where the two differ: parameters, plugin versions, "
                + "source revision, data, engine, and final metrics.")
final class RerunCommand implements Callable<Integer> {

    @Parameters(paramLabel = "RUN_ID", description = "The run's id (as printed by run, or MLflow's run id).")
    String runId;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--tracking-uri", paramLabel = "URI",
            description = "The tracking server holding the run; default $MLFLOW_TRACKING_URI, else the local store.")
    String trackingUri;

    @Option(names = "--runs-dir", paramLabel = "DIR", description = "The local store's directory (default: runs).")
    Path runsDir = Path.of("runs");

    @Override
    public Integer call() {
        PrintStream out = System.out;
        PluginRegistry registry = plugins.load(System.err);
        String uri = trackingUri != null ? trackingUri : System.getenv("MLFLOW_TRACKING_URI");
        RecordedRun old;
        try (Tracker source = uri == null || uri.isBlank() ? new LocalTracker(runsDir)
                : Trackers.forUri(registry, uri, Map.of(), Cache.directory(), "--tracking-uri")) {
            old = source.fetchRun(runId).orElseThrow(() -> new UserError("no run '" + runId + "' in "
                    + (uri == null || uri.isBlank() ? runsDir.toAbsolutePath() : uri)
                    + "; give the id run printed (and --tracking-uri for a run in MLflow)"));
        }
        if ("parent".equals(old.tags().get("modalign.sweep"))) {
            throw new UserError("run '" + runId + "' is a sweep's parent run: it trained nothing itself; rerun one of"
                    + " its trials (the child runs it lists) with modalign rerun TRIAL_RUN_ID, or the whole sweep with"
                    + " modalign run on its experiment file (" + old.tags().getOrDefault("modalign.experiment_file", "?")
                    + ")");
        }
        if (old.resolvedYaml().isBlank()) {
            throw new UserError("run '" + runId + "' recorded no resolved configuration (resolved.yaml), so it cannot be"
                    + " rerun; it was not made by modalign run, or its artifacts were deleted");
        }
        Path file = writeConfiguration(old);
        String experimentFile = old.tags().get("modalign.experiment_file");
        Path baseDir = experimentFile == null ? null : Path.of(experimentFile).toAbsolutePath().getParent();
        if (baseDir != null && !Files.isDirectory(baseDir)) {
            baseDir = null;
        }
        out.println("re-running " + runId + " from its recorded configuration (" + file + ")");
        RunModule module = new RunModule(registry, file, new RunModule.Overrides(uri, runsDir, null, java.util.List.of(),
                baseDir), Cache.directory(), out);
        Injector injector = Main.injector(module);
        RunResult result;
        try {
            result = injector.getInstance(Trainer.class).run();
        } finally {
            injector.getInstance(Tracker.class).close();
        }
        RunCommand.printResult(out, result);
        RunPlan plan = injector.getInstance(RunPlan.class);
        Map<String, String> tags = injector.getInstance(Provenance.class).tags(plan);
        tags.put("modalign.experiment_file", experimentFile == null ? "" : experimentFile);
        int differences = compare(out, "parameter", old.params(), Resolved.flatten(plan.resolved()))
                + compare(out, "tag", withoutVolatile(old.tags()), withoutVolatile(tags));
        for (Map.Entry<String, Double> metric : result.metrics().entrySet()) {
            Double before = old.metrics().get(metric.getKey());
            if (before == null || Math.abs(before - metric.getValue()) > 1e-9) {
                out.printf("differs: metric %s: %s -> %.6f%n", metric.getKey(), before == null ? "(none)"
                        : String.format("%.6f", before), metric.getValue());
                differences++;
            }
        }
        out.println(differences == 0 ? "the new run " + result.runId() + " matches " + runId + " exactly"
                : differences + " differences between " + runId + " and the new run " + result.runId());
        return Main.OK;
    }

    private Path writeConfiguration(RecordedRun old) {
        try {
            Path dir = Files.createDirectories(Cache.directory().resolve("reruns"));
            return Files.writeString(dir.resolve(old.runId() + ".yaml"), old.resolvedYaml());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Tags that say where the configuration was read from, not how the run was made. */
    private static Map<String, String> withoutVolatile(Map<String, String> tags) {
        Map<String, String> kept = new java.util.TreeMap<>(tags);
        kept.keySet().removeIf(key -> !key.startsWith("modalign.") || key.equals("modalign.experiment_file")
                || key.equals("modalign.spool_id") || key.equals("modalign.error"));
        return kept;
    }

    private static int compare(PrintStream out, String what, Map<String, String> before, Map<String, String> after) {
        int differences = 0;
        for (String key : new TreeSet<>(union(before, after))) {
            if (!Objects.equals(before.get(key), after.get(key))) {
                out.println("differs: " + what + " " + key + ": " + show(before.get(key)) + " -> " + show(after.get(key)));
                differences++;
            }
        }
        return differences;
    }

    private static java.util.Set<String> union(Map<String, String> a, Map<String, String> b) {
        java.util.Set<String> keys = new java.util.HashSet<>(a.keySet());
        keys.addAll(b.keySet());
        return keys;
    }

    private static String show(String value) {
        return value == null ? "(none)" : value;
    }
}
