package dev.modalign.core.cli;

import dev.modalign.api.Tracker;
import dev.modalign.core.RunFailure;
import dev.modalign.core.UserError;
import dev.modalign.core.compose.Trackers;
import dev.modalign.core.report.Report;
import dev.modalign.core.report.ReportBuilder;
import dev.modalign.core.report.ReportRequest;
import dev.modalign.core.report.ReportWriter;
import dev.modalign.core.track.LocalTracker;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code modalign report}: compares recorded runs and writes reports/NAME/ (markdown, PNG charts, results.json). */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Read runs back from the tracking store and write a comparison report into reports/NAME/: "
                + "README.md (methods x metrics, mean ± sample std over seeds and n, the best per column in bold; "
                + "training curves and metric bars as PNG; the runs and their resolved experiments), results.json "
                + "(the same numbers) and experiments/ (each run's resolved YAML).",
            "Rows: one per experiment when several are given; else one per value of the parameters that differ "
                + "between the runs other than the seed (a sweep's swept parameters); --group-by overrides. Runs that "
                + "did not finish are listed, not aggregated. The same runs give byte-identical files."})
final class ReportCommand implements Callable<Integer> {

    @Option(names = "--name", required = true, paramLabel = "NAME",
            description = "The report's name: its directory is reports/NAME unless --out says otherwise.")
    String name;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    static final class Source {
        @Option(names = "--experiment", paramLabel = "EXPERIMENT", required = true,
                description = "An experiment whose runs to compare (repeatable; rows keep this order).")
        List<String> experiments;

        @Option(names = "--parent", paramLabel = "RUN_ID", required = true,
                description = "A sweep's parent run: compare its child runs.")
        String parent;
    }

    @Option(names = "--run", paramLabel = "RUN_ID",
            description = "Compare only these runs of the experiments or the sweep (repeatable); default: all of them.")
    List<String> runIds = new ArrayList<>();

    @Mixin
    PluginOptions plugins;

    @Option(names = "--tracking-uri", paramLabel = "URI",
            description = "The tracking server holding the runs; default $MLFLOW_TRACKING_URI, else the local store.")
    String trackingUri;

    @Option(names = "--runs-dir", paramLabel = "DIR", description = "The local store's directory (default: runs).")
    Path runsDir;

    @Option(names = "--metric", paramLabel = "KEY",
            description = "A metric for the table and a bar chart (repeatable, in order). Default: every eval/ metric.")
    List<String> metrics = new ArrayList<>();

    @Option(names = "--group-by", paramLabel = "PARAM",
            description = "Make one row per value of this parameter (repeatable for combinations), e.g. losses.0.type;"
                    + " 'experiment' for one row per experiment.")
    List<String> groupBy = new ArrayList<>();

    @Option(names = "--curve", paramLabel = "KEY",
            description = "A metric to draw per step, mean over seeds (repeatable). Default: train/loss.")
    List<String> curves = new ArrayList<>();

    @Option(names = "--lower-is-better", paramLabel = "KEY",
            description = "A metric where lower is better (repeatable); metrics whose name says loss already are.")
    List<String> lowerIsBetter = new ArrayList<>();

    @Option(names = "--title", paramLabel = "TEXT", description = "The page's title (default: the name).")
    String title;

    @Option(names = "--notes", paramLabel = "FILE",
            description = "A markdown file (findings, a sentence per method) put into the page under the table.")
    Path notes;

    @Option(names = "--out", paramLabel = "DIR", description = "Where to write (default: reports/NAME).")
    Path out;

    @Override
    public Integer call() {
        PrintStream progress = System.out;
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
            throw new UserError("--name " + name + ": a report's name is its directory's name: letters, digits, '.', '_'"
                    + " and '-', e.g. --name clip-vs-siglip");
        }
        Path target = out != null ? out : Path.of("reports", name);
        String uri = trackingUri != null ? trackingUri : System.getenv("MLFLOW_TRACKING_URI");
        boolean local = uri == null || uri.isBlank();
        Path localDir = runsDir != null ? runsDir : Path.of("runs");
        String store = local ? localDir.toString() : uri;
        if (local && !Files.isDirectory(localDir)) {
            throw new UserError("no local store at " + localDir.toAbsolutePath() + ": give the directory runs were recorded"
                    + " in with --runs-dir, or the tracking server with --tracking-uri (or $MLFLOW_TRACKING_URI)");
        }
        ReportRequest request = new ReportRequest(name, title, source.experiments == null ? List.of() : source.experiments,
                source.parent, new LinkedHashSet<>(runIds), metrics, groupBy, curves.isEmpty() ? ReportRequest.DEFAULT_CURVES : curves,
                new LinkedHashSet<>(lowerIsBetter), readNotes(), store, commandLine(local, store));
        progress.println("reading runs from " + store);
        Report report;
        try (Tracker tracker = local ? new LocalTracker(localDir)
                : Trackers.forUri(plugins.load(System.err), uri, Map.of(), Cache.directory(), "--tracking-uri")) {
            List<String> known = tracker instanceof LocalTracker localTracker ? localTracker.experiments() : List.of();
            report = new ReportBuilder(tracker, progress, known).build(request);
        } catch (UserError e) {
            throw e;
        } catch (RuntimeException e) {
            throw new RunFailure("cannot read the runs from " + store + ": " + e.getMessage()
                    + (local || e.getMessage() != null && e.getMessage().contains("scripts/mlflow-server") ? ""
                            : "; is the server up? start one with scripts/mlflow-server start"), e);
        }
        List<Path> written = ReportWriter.write(report, target);
        long charts = written.stream().filter(path -> path.toString().endsWith(".png")).count();
        progress.printf("wrote %s: %d method(s), %d run(s) (%d finished), %d chart(s), %d file(s) in all%n",
                target.resolve("README.md"), report.methods().size(), report.runCount(), report.finishedCount(), charts,
                written.size());
        if (report.finishedCount() == 0) {
            progress.println("warning: no run finished; the table is empty (see the Runs section for their errors)");
        }
        return Main.OK;
    }

    private String readNotes() {
        if (notes == null) {
            return "";
        }
        try {
            return Files.readString(notes, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UserError("--notes " + notes + ": cannot read it (" + e.getMessage() + ")");
        }
    }

    /** The command as the page quotes it: the options that decide its content, in a fixed order. */
    private String commandLine(boolean local, String store) {
        List<String> parts = new ArrayList<>(List.of("modalign", "report", "--name", name));
        parts.addAll(local ? List.of("--runs-dir", store) : List.of("--tracking-uri", store));
        if (source.parent != null) {
            parts.addAll(List.of("--parent", source.parent));
        } else {
            source.experiments.forEach(experiment -> parts.addAll(List.of("--experiment", experiment)));
        }
        runIds.stream().sorted().forEach(id -> parts.addAll(List.of("--run", id)));
        metrics.forEach(metric -> parts.addAll(List.of("--metric", metric)));
        groupBy.forEach(key -> parts.addAll(List.of("--group-by", key)));
        curves.forEach(key -> parts.addAll(List.of("--curve", key)));
        lowerIsBetter.forEach(key -> parts.addAll(List.of("--lower-is-better", key)));
        if (title != null) {
            parts.addAll(List.of("--title", title));
        }
        if (notes != null) {
            parts.addAll(List.of("--notes", notes.toString()));
        }
        if (out != null) {
            parts.addAll(List.of("--out", out.toString()));
        }
        return String.join(" ", parts.stream().map(ReportCommand::quote).toList());
    }

    private static String quote(String word) {
        return word.matches("[A-Za-z0-9._/=:@%+-]+") ? word : "'" + word.replace("'", "'\\''") + "'";
    }
}
