package dev.modalign.core.report;

import dev.modalign.api.MetricPoint;
import dev.modalign.api.RecordedRun;
import dev.modalign.api.RunStatus;
import dev.modalign.api.Tracker;
import dev.modalign.core.UserError;
import dev.modalign.core.config.Suggestions;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads the runs of a {@link ReportRequest} back from a tracker (their last metric values, the
 * histories of the curve metrics, their resolved experiments) and aggregates them into a {@link Report}.
 * Says what it reads on {@code progress}; a request the store cannot answer (an unknown experiment, a
 * run without children, a metric no run logged) is a {@link UserError} that says what is there.
 */
public final class ReportBuilder {

    private final Tracker tracker;
    private final PrintStream progress;
    private final List<String> knownExperiments;

    /**
     * @param knownExperiments the store's experiments where it can list them (the local store), for
     *     the error about an unknown one; empty where it cannot (MLflow through this API)
     */
    public ReportBuilder(Tracker tracker, PrintStream progress, List<String> knownExperiments) {
        this.tracker = tracker;
        this.progress = progress;
        this.knownExperiments = List.copyOf(knownExperiments);
    }

    public Report build(ReportRequest request) {
        Report.ParentRun parent = null;
        List<RecordedRun> runs;
        int parentsLeftOut = 0;
        if (request.parentRunId() != null) {
            parent = parent(request);
            runs = children(request, parent);
        } else {
            List<RecordedRun> all = experiments(request);
            Set<String> parents = new HashSet<>();
            all.forEach(run -> {
                if (run.info().parentRunId() != null) {
                    parents.add(run.info().parentRunId());
                }
            });
            runs = all.stream().filter(run -> !parents.contains(run.runId())).toList();
            parentsLeftOut = (int) all.stream().filter(run -> parents.contains(run.runId())).count();
            if (parentsLeftOut > 0) {
                progress.println("left out " + parentsLeftOut + " sweep parent run(s); their trials are compared");
            }
        }
        runs = selected(request, runs);
        MethodGrouping grouping = grouping(request, runs, parent);
        List<Method> methods = grouping.apply(runs);
        List<String> metrics = metrics(request, runs);
        ComparisonTable table = ComparisonTable.of(methods, metrics, request.lowerIsBetter());
        progress.println((grouping.describe().equals("method") ? "1 method (only the seed differs between the runs)"
                : methods.size() + " method(s) by " + grouping.describe()) + ", " + metrics.size() + " metric(s)");
        Map<String, List<TrainingCurve>> curves = curves(request, methods);
        Map<String, String> resolved = resolvedYaml(methods);
        return new Report(request, grouping, methods, table, curves, resolved, parent, parentsLeftOut);
    }

    /** The runs named by --run, all of them found; every run when none is named. */
    private List<RecordedRun> selected(ReportRequest request, List<RecordedRun> runs) {
        if (request.runIds().isEmpty()) {
            return runs;
        }
        List<RecordedRun> selected = runs.stream().filter(run -> request.runIds().contains(run.runId())).toList();
        Set<String> found = new HashSet<>();
        selected.forEach(run -> found.add(run.runId()));
        List<String> missing = request.runIds().stream().filter(id -> !found.contains(id)).sorted().toList();
        if (!missing.isEmpty()) {
            throw new UserError("--run " + String.join(", ", missing) + ": not " + (missing.size() == 1 ? "a run" : "runs")
                    + " of " + (request.parentRunId() != null ? "the sweep " + request.parentRunId()
                    : "the experiments " + String.join(", ", request.experiments())) + " in " + request.store()
                    + " (sweep parents are not runs of a method); leave --run out to compare every run");
        }
        progress.println("comparing the " + selected.size() + " run(s) named by --run of " + runs.size());
        return selected;
    }

    private List<RecordedRun> experiments(ReportRequest request) {
        List<RecordedRun> all = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String experiment : request.experiments()) {
            List<RecordedRun> runs = tracker.searchRuns(experiment);
            if (runs.isEmpty()) {
                missing.add(experiment);
                continue;
            }
            long finished = runs.stream().filter(run -> run.info().status() == RunStatus.FINISHED).count();
            progress.println("experiment " + experiment + ": " + runs.size() + " run(s), " + finished + " finished");
            runs.forEach(run -> all.add(withExperiment(run, experiment)));
        }
        if (!missing.isEmpty()) {
            List<UserError.Problem> problems = new ArrayList<>();
            for (String experiment : missing) {
                String known = knownExperiments.isEmpty() ? "" : Suggestions.didYouMean(experiment, knownExperiments)
                        + " (experiments there: " + String.join(", ", knownExperiments) + ")";
                problems.add(UserError.Problem.general("--experiment " + experiment + ": no runs in " + request.store()
                        + known + "; runs are recorded under tracking.experiment, else the experiment's name"));
            }
            throw new UserError(problems);
        }
        return all;
    }

    /** The run as read, with the experiment it was found under where the store did not say. */
    private static RecordedRun withExperiment(RecordedRun run, String experiment) {
        if (!run.info().experiment().isEmpty()) {
            return run;
        }
        RecordedRun.Info info = run.info();
        return new RecordedRun(run.runId(), run.resolvedYaml(), run.params(), run.tags(), run.metrics(),
                new RecordedRun.Info(experiment, info.runName(), info.status(), info.parentRunId(), info.startTime(),
                        info.endTime()));
    }

    private Report.ParentRun parent(ReportRequest request) {
        RecordedRun parent = tracker.fetchRun(request.parentRunId()).orElseThrow(() -> new UserError("--parent "
                + request.parentRunId() + ": no such run in " + request.store() + "; give the sweep's parent run id"
                + " (printed first when the sweep starts) and the store it was recorded in (--tracking-uri, --runs-dir)"));
        if (parent.info().experiment().isEmpty()) {
            throw new UserError("--parent " + request.parentRunId() + ": the store does not say which experiment the run"
                    + " belongs to; name the experiment with --experiment instead");
        }
        return new Report.ParentRun(parent.runId(), parent.info().runName(), parent.info().experiment());
    }

    private List<RecordedRun> children(ReportRequest request, Report.ParentRun parent) {
        List<RecordedRun> children = tracker.searchRuns(parent.experiment()).stream()
                .filter(run -> parent.runId().equals(run.info().parentRunId())).toList();
        if (children.isEmpty()) {
            throw new UserError("--parent " + parent.runId() + " (" + parent.runName() + ", experiment " + parent.experiment()
                    + ") has no child runs in " + request.store() + "; it is not a sweep's parent, or its trials have not"
                    + " started: give a sweep's parent run id, or the experiment with --experiment");
        }
        progress.println("sweep " + parent.runName() + " (" + parent.runId() + "): " + children.size() + " trial run(s)");
        return children;
    }

    private static MethodGrouping grouping(ReportRequest request, List<RecordedRun> runs, Report.ParentRun parent) {
        if (!request.groupBy().isEmpty()) {
            if (request.groupBy().equals(List.of("experiment"))) {
                return MethodGrouping.byExperiment(request.experiments().isEmpty() ? List.of(parent.experiment())
                        : request.experiments());
            }
            Set<String> known = new TreeSet<>();
            runs.forEach(run -> known.addAll(run.params().keySet()));
            List<UserError.Problem> problems = new ArrayList<>();
            for (String key : request.groupBy()) {
                if (!known.contains(key)) {
                    problems.add(UserError.Problem.general("--group-by " + key + ": no run has this parameter"
                            + Suggestions.didYouMean(key, known) + "; the parameters are the experiment's keys flattened"
                            + " with dots (losses.0.temperature)"));
                }
            }
            if (!problems.isEmpty()) {
                throw new UserError(problems);
            }
            return MethodGrouping.byParams(request.groupBy());
        }
        if (request.experiments().size() > 1) {
            return MethodGrouping.byExperiment(request.experiments());
        }
        String name = parent != null ? parent.runName() : request.experiments().get(0);
        return MethodGrouping.bySweptParams(runs, name);
    }

    /** The requested metrics, checked; else every eval/ metric a finished run logged, sorted. */
    private static List<String> metrics(ReportRequest request, List<RecordedRun> runs) {
        Set<String> known = new TreeSet<>();
        runs.forEach(run -> known.addAll(run.metrics().keySet()));
        if (!request.metrics().isEmpty()) {
            List<UserError.Problem> problems = new ArrayList<>();
            for (String metric : request.metrics()) {
                if (!known.contains(metric)) {
                    List<String> eval = known.stream().filter(key -> key.startsWith("eval/")).toList();
                    problems.add(UserError.Problem.general("--metric " + metric + ": no run logged it"
                            + Suggestions.didYouMean(metric, known) + (eval.isEmpty() ? "" : "; the evaluation metrics are "
                            + String.join(", ", eval))));
                }
            }
            if (!problems.isEmpty()) {
                throw new UserError(problems);
            }
            return request.metrics();
        }
        Set<String> eval = new TreeSet<>();
        runs.stream().filter(run -> run.info().status() == RunStatus.FINISHED)
                .forEach(run -> run.metrics().keySet().stream().filter(key -> key.startsWith("eval/")).forEach(eval::add));
        return List.copyOf(eval);
    }

    private Map<String, List<TrainingCurve>> curves(ReportRequest request, List<Method> methods) {
        int finished = methods.stream().mapToInt(method -> method.finished().size()).sum();
        Map<String, List<TrainingCurve>> curves = new LinkedHashMap<>();
        for (String key : request.curves()) {
            progress.println("reading the history of " + key + " of " + finished + " finished run(s)");
            List<TrainingCurve> perMethod = new ArrayList<>();
            for (Method method : methods) {
                List<List<MetricPoint>> histories = new ArrayList<>();
                for (RecordedRun run : method.finished()) {
                    histories.add(tracker.metricHistory(run.runId(), key));
                }
                TrainingCurve curve = TrainingCurve.of(method.name(), histories);
                if (!curve.isEmpty()) {
                    perMethod.add(curve);
                }
            }
            curves.put(key, perMethod);
        }
        return curves;
    }

    private Map<String, String> resolvedYaml(List<Method> methods) {
        Map<String, String> resolved = new LinkedHashMap<>();
        List<RecordedRun> missing = new ArrayList<>();
        for (Method method : methods) {
            for (RecordedRun run : method.runs()) {
                resolved.put(run.runId(), run.resolvedYaml());
                if (run.resolvedYaml().isEmpty()) {
                    missing.add(run);
                }
            }
        }
        if (!missing.isEmpty()) {
            progress.println("reading the resolved experiments of " + missing.size() + " run(s)");
            for (RecordedRun run : missing) {
                resolved.put(run.runId(), tracker.fetchRun(run.runId()).map(RecordedRun::resolvedYaml).orElse(""));
            }
        }
        return resolved;
    }
}
