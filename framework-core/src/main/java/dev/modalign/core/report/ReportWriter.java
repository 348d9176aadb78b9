package dev.modalign.core.report;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.modalign.api.RecordedRun;
import dev.modalign.api.RunStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Writes a {@link Report} into its directory: README.md (the table, the notes, the charts, the runs),
 * results.json (the same numbers), charts/*.png and experiments/ (each run's resolved experiment).
 *
 * <p>The files depend on the runs and the request only: everything is in a fixed order, there is no
 * date or time in them, and the charts are drawn at fixed sizes, so the same runs give the same bytes
 * and a regenerated report shows up in a diff only where a run changed. Other files in the directory
 * (a notes file, say) are left alone; charts/ and experiments/ are the writer's and are replaced.
 */
public final class ReportWriter {

    private ReportWriter() {}

    /** Writes the report under {@code out}; returns the files written, relative to it. */
    public static List<Path> write(Report report, Path out) {
        try {
            Files.createDirectories(out);
            deleteTree(out.resolve("charts"));
            deleteTree(out.resolve("experiments"));
            Layout layout = new Layout(report);
            List<Path> written = new ArrayList<>();
            for (Map.Entry<String, byte[]> chart : charts(report, layout).entrySet()) {
                written.add(write(out, chart.getKey(), chart.getValue()));
            }
            for (Map.Entry<String, String> file : layout.experimentFiles.entrySet()) {
                String yaml = report.resolvedYaml().get(file.getKey());
                written.add(write(out, file.getValue(), yaml.getBytes(StandardCharsets.UTF_8)));
            }
            written.add(write(out, "README.md", markdown(report, layout).getBytes(StandardCharsets.UTF_8)));
            written.add(write(out, "results.json", json(report, layout).getBytes(StandardCharsets.UTF_8)));
            return written;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the report into " + out + ": " + e.getMessage(), e);
        }
    }

    private static Path write(Path out, String relative, byte[] bytes) throws IOException {
        Path target = out.resolve(relative);
        Files.createDirectories(target.getParent());
        Files.write(target, bytes);
        return Path.of(relative);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }

    /** Where each chart and each run's experiment goes, and how numbers are shown. */
    private static final class Layout {
        final Map<String, String> curveCharts = new LinkedHashMap<>();
        final Map<String, String> barCharts = new LinkedHashMap<>();
        /** run id -> path of its resolved experiment, for runs that recorded one. */
        final Map<String, String> experimentFiles = new LinkedHashMap<>();
        final Map<String, Integer> decimals = new LinkedHashMap<>();
        final String metricPrefix;

        Layout(Report report) {
            report.curves().forEach((key, curves) -> {
                if (!curves.isEmpty()) {
                    curveCharts.put(key, "charts/curve-" + slug(key) + ".png");
                }
            });
            for (String metric : report.table().metrics()) {
                barCharts.put(metric, "charts/bar-" + slug(metric) + ".png");
                decimals.put(metric, decimals(report, metric));
            }
            Set<String> used = new HashSet<>();
            for (Method method : report.methods()) {
                String dir = slug(method.name());
                for (int i = 2; !used.add(dir); i++) {
                    dir = slug(method.name()) + "-" + i;
                }
                Map<String, Integer> seeds = new LinkedHashMap<>();
                method.runs().forEach(run -> seeds.merge(Method.seedOf(run), 1, Integer::sum));
                for (RecordedRun run : method.runs()) {
                    if (report.resolvedYaml().getOrDefault(run.runId(), "").isEmpty()) {
                        continue;
                    }
                    String seed = Method.seedOf(run);
                    String file = seed.isEmpty() ? "run-" + run.runId()
                            : seeds.get(seed) > 1 ? "seed-" + slug(seed) + "-" + run.runId() : "seed-" + slug(seed);
                    experimentFiles.put(run.runId(), "experiments/" + dir + "/" + file + ".yaml");
                }
            }
            metricPrefix = commonDirectory(report.table().metrics());
        }

        /** Enough decimals to show the smallest mean of the column with two significant digits, 3 to 6. */
        private static int decimals(Report report, String metric) {
            double smallest = Double.POSITIVE_INFINITY;
            for (Method method : report.methods()) {
                MetricSummary summary = report.table().cell(method.name(), metric);
                if (!summary.isEmpty() && summary.mean() != 0) {
                    smallest = Math.min(smallest, Math.abs(summary.mean()));
                }
            }
            if (!Double.isFinite(smallest)) {
                return 3;
            }
            int needed = (int) Math.ceil(-Math.log10(smallest)) + 1;
            return Math.max(3, Math.min(6, needed));
        }

        String shortName(String metric) {
            return metric.substring(metricPrefix.length());
        }

        String format(String metric, double value) {
            return String.format(Locale.ROOT, "%." + decimals.get(metric) + "f", value);
        }
    }

    /** The longest prefix ending in '/' that every metric shares, so that table headers stay short. */
    static String commonDirectory(List<String> metrics) {
        if (metrics.isEmpty()) {
            return "";
        }
        String prefix = metrics.get(0);
        for (String metric : metrics) {
            int i = 0;
            while (i < prefix.length() && i < metric.length() && prefix.charAt(i) == metric.charAt(i)) {
                i++;
            }
            prefix = prefix.substring(0, i);
        }
        int slash = prefix.lastIndexOf('/');
        // Keep at least the last part of every name: a single metric keeps its own name.
        String directory = slash < 0 ? "" : prefix.substring(0, slash + 1);
        for (String metric : metrics) {
            if (metric.length() == directory.length()) {
                return "";
            }
        }
        return directory;
    }

    static String slug(String text) {
        String slug = text.replace('/', '-').replaceAll("[^A-Za-z0-9._=-]+", "_").replaceAll("^[._-]+", "");
        return slug.isEmpty() ? "_" : slug;
    }

    private static Map<String, byte[]> charts(Report report, Layout layout) {
        Map<String, byte[]> charts = new LinkedHashMap<>();
        String rowsAre = report.grouping().describe();
        layout.curveCharts.forEach((key, file) -> charts.put(file, ReportCharts.curves(key, rowsAre, report.curves().get(key))));
        List<String> names = report.methods().stream().map(Method::name).toList();
        layout.barCharts.forEach((metric, file) -> charts.put(file, ReportCharts.bars(metric, rowsAre, names,
                names.stream().map(name -> report.table().cell(name, metric)).toList(),
                report.table().directions().get(metric))));
        return charts;
    }

    private static String markdown(Report report, Layout layout) {
        ReportRequest request = report.request();
        StringBuilder md = new StringBuilder();
        md.append("# ").append(request.title()).append("\n\n");
        int unfinished = report.runCount() - report.finishedCount();
        md.append(report.finishedCount()).append(" finished run(s) of ").append(source(report)).append(" in `")
                .append(request.store()).append("`, ").append(rowsSentence(report)).append('.');
        if (unfinished > 0) {
            md.append(' ').append(unfinished).append(" run(s) that did not finish are listed under Runs and left out of"
                    + " the numbers.");
        }
        if (report.parentsLeftOut() > 0) {
            md.append(' ').append(report.parentsLeftOut()).append(" sweep parent run(s) are left out: their trials are"
                    + " the runs.");
        }
        md.append("\n\n");
        if (report.table().metrics().isEmpty()) {
            md.append("No run logged an evaluation metric (`eval/...`); name metrics with `--metric`.\n\n");
        } else {
            md.append("Each cell is the mean ± sample standard deviation over seeds of the runs' last values; n is the"
                    + " number of finished runs (a cell that stands on fewer says so). The best mean per column is in"
                    + " bold: higher is better, lower where the header says ↓.");
            if (!layout.metricPrefix.isEmpty()) {
                md.append(" Metrics are under `").append(layout.metricPrefix).append("`.");
            }
            md.append("\n\n");
            table(md, report, layout);
        }
        if (!request.notes().isBlank()) {
            md.append('\n').append(request.notes().strip()).append("\n");
        }
        if (!layout.curveCharts.isEmpty()) {
            md.append("\n## Training curves\n\nMean over seeds at each step, per ").append(report.grouping().describe())
                    .append(".\n\n");
            layout.curveCharts.forEach((key, file) -> md.append("![").append(key).append("](").append(file).append(")\n\n"));
        }
        if (!layout.barCharts.isEmpty()) {
            md.append(layout.curveCharts.isEmpty() ? "\n" : "").append("## Metrics\n\nMean per ")
                    .append(report.grouping().describe()).append(", error bars ± one sample standard deviation over seeds.\n\n");
            layout.barCharts.forEach((metric, file) -> md.append("![").append(metric).append("](").append(file).append(")\n\n"));
        }
        runs(md, report, layout);
        md.append("\nMade by the command below; the same runs give the same files.\n\n```\n")
                .append(wrap(request.commandLine())).append("\n```\n");
        return md.toString();
    }

    /** A shell command cut before an option where a line would pass 100 characters, with ' \\' continuations. */
    static String wrap(String command) {
        StringBuilder out = new StringBuilder();
        int lineStart = 0;
        String[] words = command.split(" ");
        for (int i = 0; i < words.length; i++) {
            boolean option = words[i].startsWith("--");
            int length = out.length() - lineStart;
            // An option and its value stay on one line.
            int next = words[i].length() + (option && i + 1 < words.length && !words[i + 1].startsWith("--")
                    ? 1 + words[i + 1].length() : 0);
            if (i > 0 && option && length + 1 + next > 98) {
                out.append(" \\\n    ");
                lineStart = out.length() - 4;
            } else if (i > 0) {
                out.append(' ');
            }
            out.append(words[i]);
        }
        return out.toString();
    }

    private static String source(Report report) {
        if (report.parent() != null) {
            return "the sweep `" + report.parent().runName() + "` (parent run `" + report.parent().runId()
                    + "`, experiment `" + report.parent().experiment() + "`)";
        }
        List<String> names = report.request().experiments().stream().map(name -> "`" + name + "`").toList();
        return (names.size() == 1 ? "experiment " : "experiments ") + String.join(", ", names);
    }

    private static String rowsSentence(Report report) {
        int rows = report.methods().size();
        List<String> keys = report.grouping().keys();
        if (keys.isEmpty() && !"experiment".equals(report.grouping().describe())) {
            return "one method (only the seed differs between the runs)";
        }
        String by = keys.isEmpty() ? "experiment" : "the values of " + String.join(", ", keys.stream()
                .map(key -> "`" + key + "`").toList());
        return rows + (rows == 1 ? " row" : " rows") + " by " + by;
    }

    private static void table(StringBuilder md, Report report, Layout layout) {
        ComparisonTable table = report.table();
        md.append("| ").append(escape(report.grouping().describe())).append(" | n |");
        for (String metric : table.metrics()) {
            md.append(' ').append(escape(layout.shortName(metric)))
                    .append(table.directions().get(metric) == MetricDirection.LOWER_IS_BETTER ? " ↓" : "").append(" |");
        }
        md.append("\n|---|---|").append("---|".repeat(table.metrics().size())).append('\n');
        for (Method method : report.methods()) {
            int n = method.finished().size();
            md.append("| ").append(escape(method.name())).append(" | ").append(n);
            if (!method.unfinished().isEmpty()) {
                md.append(" (+").append(method.unfinished().size()).append(" not finished)");
            }
            md.append(" |");
            for (String metric : table.metrics()) {
                MetricSummary summary = table.cell(method.name(), metric);
                md.append(' ').append(cell(summary, n, table.isBest(method.name(), metric), metric, layout)).append(" |");
            }
            md.append('\n');
        }
    }

    private static String cell(MetricSummary summary, int runs, boolean best, String metric, Layout layout) {
        if (summary.isEmpty()) {
            return "–";
        }
        String text = layout.format(metric, summary.mean());
        if (!Double.isNaN(summary.std())) {
            text += " ± " + layout.format(metric, summary.std());
        }
        if (best) {
            text = "**" + text + "**";
        }
        return summary.n() == runs ? text : text + " (n=" + summary.n() + ")";
    }

    private static void runs(StringBuilder md, Report report, Layout layout) {
        md.append("## Runs\n\nThe runs behind every number, and the resolved experiment each recorded (artifact"
                + " `config/resolved.yaml`; `modalign rerun RUN_ID` runs one again). Relative data paths in a file are"
                + " relative to the experiment file the run was started from.\n\n");
        md.append("| ").append(escape(report.grouping().describe())).append(" | seed | run id | status | resolved YAML |\n");
        md.append("|---|---|---|---|---|\n");
        for (Method method : report.methods()) {
            for (RecordedRun run : method.runs()) {
                String file = layout.experimentFiles.get(run.runId());
                md.append("| ").append(escape(method.name())).append(" | ").append(escape(Method.seedOf(run)))
                        .append(" | `").append(run.runId()).append("` | ").append(escape(status(run))).append(" | ")
                        .append(file == null ? "(none recorded)" : "[" + Path.of(file).getFileName() + "](" + file + ")")
                        .append(" |\n");
            }
        }
    }

    /** The status, with the first line of the error of a run that did not finish. */
    private static String status(RecordedRun run) {
        String status = run.info().status().name();
        String error = run.tags().get("modalign.error");
        if (run.info().status() == RunStatus.FINISHED || error == null || error.isBlank()) {
            return status;
        }
        String line = error.strip().lines().findFirst().orElse("");
        return status + ": " + (line.length() > 160 ? line.substring(0, 157) + "..." : line);
    }

    private static String escape(String text) {
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ");
    }

    private static String json(Report report, Layout layout) {
        ReportRequest request = report.request();
        JsonObject root = new JsonObject();
        root.addProperty("name", request.name());
        root.addProperty("title", request.title());
        root.addProperty("store", request.store());
        if (report.parent() != null) {
            JsonObject parent = new JsonObject();
            parent.addProperty("run_id", report.parent().runId());
            parent.addProperty("run_name", report.parent().runName());
            parent.addProperty("experiment", report.parent().experiment());
            root.add("parent", parent);
        } else {
            root.add("experiments", strings(request.experiments()));
        }
        root.addProperty("grouped_by", report.grouping().describe());
        root.add("group_keys", strings(report.grouping().keys()));
        JsonArray metrics = new JsonArray();
        for (String metric : report.table().metrics()) {
            JsonObject entry = new JsonObject();
            entry.addProperty("key", metric);
            entry.addProperty("better", report.table().directions().get(metric).word());
            entry.add("best", strings(List.copyOf(report.table().best().get(metric))));
            entry.addProperty("chart", layout.barCharts.get(metric));
            metrics.add(entry);
        }
        root.add("metrics", metrics);
        JsonArray methods = new JsonArray();
        for (Method method : report.methods()) {
            JsonObject entry = new JsonObject();
            entry.addProperty("name", method.name());
            JsonObject settings = new JsonObject();
            for (int i = 0; i < report.grouping().keys().size(); i++) {
                settings.addProperty(report.grouping().keys().get(i), method.key().get(i));
            }
            entry.add("settings", settings);
            entry.addProperty("n", method.finished().size());
            entry.addProperty("not_finished", method.unfinished().size());
            JsonObject summaries = new JsonObject();
            for (String metric : report.table().metrics()) {
                MetricSummary summary = report.table().cell(method.name(), metric);
                JsonObject cell = new JsonObject();
                cell.add("mean", number(summary.mean()));
                cell.add("std", number(summary.std()));
                cell.addProperty("n", summary.n());
                JsonArray values = new JsonArray();
                summary.values().forEach(value -> values.add(number(value)));
                cell.add("values", values);
                cell.addProperty("best", report.table().isBest(method.name(), metric));
                summaries.add(metric, cell);
            }
            entry.add("metrics", summaries);
            JsonArray runs = new JsonArray();
            for (RecordedRun run : method.runs()) {
                JsonObject runEntry = new JsonObject();
                runEntry.addProperty("run_id", run.runId());
                runEntry.addProperty("run_name", run.info().runName());
                runEntry.addProperty("experiment", run.info().experiment());
                runEntry.addProperty("seed", Method.seedOf(run));
                runEntry.addProperty("status", run.info().status().name());
                String error = run.tags().get("modalign.error");
                if (run.info().status() != RunStatus.FINISHED && error != null) {
                    runEntry.addProperty("error", error);
                }
                String file = layout.experimentFiles.get(run.runId());
                runEntry.add("experiment_file", file == null ? JsonNull.INSTANCE : new JsonPrimitive(file));
                JsonObject last = new JsonObject();
                for (String metric : report.table().metrics()) {
                    Double value = run.metrics().get(metric);
                    if (value != null) {
                        last.add(metric, number(value));
                    }
                }
                runEntry.add("metrics", last);
                runs.add(runEntry);
            }
            entry.add("runs", runs);
            methods.add(entry);
        }
        root.add("methods", methods);
        JsonObject curves = new JsonObject();
        report.curves().forEach((key, perMethod) -> {
            JsonObject byMethod = new JsonObject();
            for (TrainingCurve curve : perMethod) {
                JsonObject entry = new JsonObject();
                entry.addProperty("runs", curve.runs());
                JsonArray steps = new JsonArray();
                curve.steps().forEach(steps::add);
                JsonArray mean = new JsonArray();
                curve.mean().forEach(value -> mean.add(number(value)));
                entry.add("steps", steps);
                entry.add("mean", mean);
                byMethod.add(curve.method(), entry);
            }
            curves.add(key, byMethod);
        });
        root.add("curves", curves);
        root.addProperty("command", request.commandLine());
        return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(root) + "\n";
    }

    /** A number, or null where it is undefined (the spread of one value) or not finite. */
    private static JsonElement number(double value) {
        return Double.isFinite(value) ? new JsonPrimitive(value) : JsonNull.INSTANCE;
    }

    private static JsonArray strings(List<String> values) {
        JsonArray array = new JsonArray();
        values.forEach(array::add);
        return array;
    }
}
