package dev.modalign.core.sweep;

import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import dev.modalign.api.Tracker;
import dev.modalign.core.UserError;
import dev.modalign.core.compose.RunComposer;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.config.SweepSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs an experiment's sweep: a parent run in the tracker, each trial a child run in its own process
 * (at most {@code parallel} at once), and the aggregates over seeds on the parent. A trial that fails
 * is recorded as failed and the others go on.
 */
public final class SweepRunner {

    /**
     * What the sweep command was given beyond the file.
     *
     * @param assignments the command line's own {@code --set} assignments, applied to every trial
     * @param runOptions options passed on to every trial's {@code modalign run} (tracking, plugins, device)
     */
    public record Options(List<String> assignments, List<String> runOptions) {}

    /** What the sweep did: its parent run and every trial's outcome. */
    public record Result(String parentRunId, String location, List<TrialOutcome> outcomes) {

        public long failed() {
            return outcomes.stream().filter(o -> !o.finished()).count();
        }
    }

    private final RunPlan plan;
    private final Tracker tracker;
    private final RunComposer composer;
    private final PrintStream out;

    public SweepRunner(RunPlan plan, Tracker tracker, RunComposer composer, PrintStream out) {
        this.plan = plan;
        this.tracker = tracker;
        this.composer = composer;
        this.out = out;
    }

    public Result run(Options options) {
        SweepSpec sweep = plan.spec().sweep();
        List<Trial> trials = SweepPlan.expand(sweep, plan.file().toString());
        checkTrials(composer, plan.file(), trials, options.assignments());

        String experiment = plan.spec().tracking().experiment() != null ? plan.spec().tracking().experiment()
                : plan.spec().name();
        String name = plan.spec().tracking().runName() != null ? plan.spec().tracking().runName()
                : plan.spec().name() + "-sweep-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("MMdd-HHmmss"));
        TrackedRun parent = tracker.startRun(new RunSpec(experiment, name, null));
        out.printf("sweep %s: %d trials, %d at a time, parent run %s recording to %s%n", name, trials.size(),
                Math.min(sweep.parallel(), trials.size()), parent.id(), parent.location());
        Path workDir;
        try {
            workDir = Files.createTempDirectory("modalign-sweep-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        recordDefinition(parent, trials, sweep);

        List<String> arguments = new ArrayList<>();
        arguments.add(plan.file().toAbsolutePath().toString());
        arguments.addAll(options.runOptions());
        TrialProcess processes = new TrialProcess(arguments);
        Thread onSignal = new Thread(() -> {
            processes.stopAll();
            parent.end(RunStatus.KILLED, "the sweep was stopped by a signal (Ctrl-C or TERM)");
            tracker.close();
        }, "modalign-sweep-killed");
        Runtime.getRuntime().addShutdownHook(onSignal);

        List<TrialOutcome> outcomes = runTrials(trials, options, sweep, parent, name, workDir, processes);
        try {
            Runtime.getRuntime().removeShutdownHook(onSignal);
        } catch (IllegalStateException shuttingDown) {
            return new Result(parent.id(), parent.location(), outcomes);
        }

        List<SweepAggregates.Group> groups = SweepAggregates.groups(outcomes);
        long step = 0;
        SweepAggregates.parentMetrics(groups).forEach((key, value) -> parent.logMetric(key, value, step));
        writeSummary(parent, outcomes, groups, workDir);
        long failed = outcomes.stream().filter(o -> !o.finished()).count();
        if (failed == outcomes.size()) {
            parent.end(RunStatus.FAILED, "every trial failed; see the trials' logs under the parent's sweep/logs/");
        } else {
            parent.setTags(Map.of("modalign.sweep.failed_trials", Long.toString(failed)));
            parent.end(RunStatus.FINISHED, null);
        }
        printSummary(groups, failed, outcomes.size());
        out.println("sweep parent run " + parent.id() + " recorded in " + parent.location());
        return new Result(parent.id(), parent.location(), outcomes);
    }

    /**
     * Composes one trial of each configuration before anything runs, so a value that does not fit (a
     * typo in a grid value, an unknown component) stops the sweep at once, naming the trial; returns
     * the number of configurations.
     */
    public static int checkTrials(RunComposer composer, Path file, List<Trial> trials, List<String> assignments) {
        Set<String> seen = new LinkedHashSet<>();
        for (Trial trial : trials) {
            if (!seen.add(trial.group())) {
                continue;
            }
            List<String> sets = new ArrayList<>(assignments);
            sets.addAll(trial.setArguments());
            sets.add("sweep=null");
            try {
                composer.compose(file, sets);
            } catch (UserError e) {
                if (e.problems().stream().allMatch(SweepRunner::pluginFailure)) {
                    // Not the sweep's input: a plugin throwing in its constructor. That trial fails on its own and is
                    // recorded as failed; the other trials go on.
                    continue;
                }
                List<UserError.Problem> problems = new ArrayList<>();
                for (UserError.Problem problem : e.problems()) {
                    problems.add(new UserError.Problem(problem.file(), problem.line(), problem.column(), problem.key(),
                            problem.component(), problem.message() + " (in sweep trial " + trial.index() + ": "
                                    + trial.label() + ")"));
                }
                throw new UserError(problems);
            }
        }
        return seen.size();
    }

    /** A problem that is a plugin's constructor throwing rather than a value that does not fit (see RunComposer). */
    private static boolean pluginFailure(UserError.Problem problem) {
        return problem.message().contains("' failed to create it: ");
    }

    /** The assignments of one trial: the command line's, the trial's, and the run's place in the sweep. */
    private List<String> trialSets(Trial trial, Options options, String parentRunId, String runName) {
        List<String> sets = new ArrayList<>(options.assignments());
        sets.addAll(trial.setArguments());
        sets.add("sweep=null");
        if (parentRunId != null) {
            sets.add("tracking.parent_run=" + NodeText.quoted(parentRunId));
            sets.add("tracking.run_name=" + NodeText.quoted(runName));
        }
        int threads = plan.spec().sweep().threadsPerTrial();
        if (threads > 0) {
            sets.add("train.threads=" + threads);
        }
        return sets;
    }

    private List<TrialOutcome> runTrials(List<Trial> trials, Options options, SweepSpec sweep, TrackedRun parent,
            String name, Path workDir, TrialProcess processes) {
        AtomicInteger done = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(sweep.parallel(), trials.size()), runnable -> {
            Thread thread = new Thread(runnable, "modalign-sweep-trial");
            thread.setDaemon(true);
            return thread;
        });
        List<Future<TrialOutcome>> futures = new ArrayList<>();
        for (Trial trial : trials) {
            String trialName = trial.name(trials.size());
            futures.add(pool.submit(() -> {
                if (sweep.maxFailures() > 0 && failures.get() >= sweep.maxFailures()) {
                    return new TrialOutcome(trial, RunStatus.KILLED, null, Map.of(), 0, "not started: "
                            + failures.get() + " trials failed (sweep.max_failures)", workDir.resolve(trialName + ".log"));
                }
                synchronized (out) {
                    out.printf("[start] %s %s%n", trialName, trial.label());
                }
                TrialOutcome outcome = processes.run(trial, trialSets(trial, options, parent.id(), name + "-" + trialName),
                        workDir, trialName);
                if (!outcome.finished()) {
                    failures.incrementAndGet();
                }
                synchronized (out) {
                    out.printf("[%d/%d] %s %s: %s in %.0f s%s%n", done.incrementAndGet(), trials.size(), trialName,
                            trial.label(), outcome.status(), outcome.seconds(), outcome.finished()
                                    ? headline(outcome) : " - " + firstLine(outcome.message()));
                }
                return outcome;
            }));
        }
        List<TrialOutcome> outcomes = new ArrayList<>();
        try {
            for (Future<TrialOutcome> future : futures) {
                outcomes.add(future.get());
            }
        } catch (InterruptedException e) {
            processes.stopAll();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("the sweep was interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("the sweep's scheduler failed: " + e.getCause(), e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return outcomes;
    }

    private static String headline(TrialOutcome outcome) {
        return outcome.metrics().entrySet().stream().filter(e -> e.getKey().startsWith("eval/")).findFirst()
                .or(() -> outcome.metrics().entrySet().stream().findFirst())
                .map(e -> String.format(Locale.ROOT, ", %s %.4f", e.getKey(), e.getValue())).orElse("");
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "no message";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline) + " ...";
    }

    private void recordDefinition(TrackedRun parent, List<Trial> trials, SweepSpec sweep) {
        Map<String, String> params = new LinkedHashMap<>();
        Map<String, Set<String>> axes = new LinkedHashMap<>();
        for (Trial trial : trials) {
            trial.assignments().forEach((path, value) -> axes.computeIfAbsent(path, p -> new LinkedHashSet<>()).add(value));
            if (trial.seed() != null) {
                axes.computeIfAbsent("seed", p -> new LinkedHashSet<>()).add(trial.seed().toString());
            }
        }
        axes.forEach((path, values) -> params.put("sweep." + path, truncate(String.join(", ", values))));
        params.put("sweep.trials", Integer.toString(trials.size()));
        params.put("sweep.parallel", Integer.toString(sweep.parallel()));
        parent.logParams(params);
        parent.setTags(Map.of("modalign.sweep", "parent", "modalign.experiment_file", plan.file().getFileName().toString()));
        parent.logArtifact(plan.file(), "config/" + plan.file().getFileName());
    }

    /** MLflow keeps parameter values up to 6000 characters. */
    private static String truncate(String value) {
        return value.length() <= 6000 ? value : value.substring(0, 5990) + " ...";
    }

    private void writeSummary(TrackedRun parent, List<TrialOutcome> outcomes, List<SweepAggregates.Group> groups,
            Path workDir) {
        StringBuilder md = new StringBuilder("# Sweep of ").append(plan.file().getFileName()).append("\n\n");
        md.append("| trial | configuration | seed | status | run id | seconds |\n|---|---|---|---|---|---|\n");
        for (TrialOutcome outcome : outcomes) {
            Trial trial = outcome.trial();
            md.append(String.format(Locale.ROOT, "| %d | %s | %s | %s | %s | %.0f |%n", trial.index(),
                    trial.group().isEmpty() ? "(file)" : trial.group(), trial.seed() == null ? "" : trial.seed(),
                    outcome.status() + (outcome.finished() ? "" : ": " + firstLine(outcome.message()).replace('|', '/')),
                    outcome.runId() == null ? "" : outcome.runId(), outcome.seconds()));
        }
        md.append("\n## Mean ± standard deviation over seeds (finished trials)\n\n");
        for (SweepAggregates.Group group : groups) {
            md.append("### ").append(group.label().isEmpty() ? "(file)" : group.label()).append(String.format(
                    Locale.ROOT, " (%d finished, %d failed)%n%n", group.finished(), group.failed()));
            group.values().forEach((key, values) -> md.append(String.format(Locale.ROOT, "- %s: %.4f ± %.4f (n=%d)%n", key,
                    SweepAggregates.mean(values), SweepAggregates.std(values), values.size())));
            md.append('\n');
        }
        try {
            Path summary = workDir.resolve("summary.md");
            Files.writeString(summary, md.toString(), StandardCharsets.UTF_8);
            parent.logArtifact(summary, "sweep/summary.md");
            for (TrialOutcome outcome : outcomes) {
                if (Files.exists(outcome.log())) {
                    parent.logArtifact(outcome.log(), "sweep/logs/" + outcome.log().getFileName());
                }
            }
        } catch (IOException e) {
            out.println("warning: could not write the sweep's summary: " + e.getMessage());
        }
    }

    private void printSummary(List<SweepAggregates.Group> groups, long failed, int total) {
        out.println();
        out.printf("sweep: %d of %d trials finished%s%n", total - failed, total, failed > 0 ? ", " + failed + " failed" : "");
        for (SweepAggregates.Group group : groups) {
            out.printf("%s (%d finished)%n", group.label().isEmpty() ? "(file)" : group.label(), group.finished());
            group.values().forEach((key, values) -> {
                if (key.startsWith("eval/")) {
                    out.printf(Locale.ROOT, "  %-50s %.4f ± %.4f%n", key, SweepAggregates.mean(values), SweepAggregates.std(values));
                }
            });
        }
    }
}
