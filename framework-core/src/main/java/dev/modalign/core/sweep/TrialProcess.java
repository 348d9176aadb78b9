package dev.modalign.core.sweep;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.modalign.api.RunStatus;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs trials as {@code modalign run} in child JVMs: a trial that crashes the JVM (a native fault, out
 * of memory) or leaks global state (PyTorch's seed and threads) cannot take the others with it, and
 * trials run in parallel without sharing an engine. Each child writes its outcome to a small JSON file
 * and its output to a log.
 */
final class TrialProcess {

    private static final String MAIN = "dev.modalign.core.cli.Main";

    private final List<String> command;
    private final Set<Process> running = ConcurrentHashMap.newKeySet();

    /**
     * @param runArguments what follows {@code modalign run}: the file and the options shared by every trial
     */
    TrialProcess(List<String> runArguments) {
        List<String> base = new ArrayList<>();
        base.add(ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // A debugger's agent would make every child wait on the same port.
            if (!argument.startsWith("-agentlib:jdwp") && !argument.startsWith("-Xrunjdwp")) {
                base.add(argument);
            }
        }
        base.add("-Dai.djl.offline=true");
        base.add("-cp");
        base.add(System.getProperty("java.class.path"));
        base.add(MAIN);
        base.add("run");
        base.addAll(runArguments);
        this.command = List.copyOf(base);
    }

    /** Runs one trial to its end; never throws for the trial's own failures. */
    TrialOutcome run(Trial trial, List<String> trialSets, Path workDir, String name) {
        long started = System.nanoTime();
        Path log = workDir.resolve(name + ".log");
        Path result = workDir.resolve(name + ".json");
        List<String> full = new ArrayList<>(command);
        for (String set : trialSets) {
            full.add("--set");
            full.add(set);
        }
        full.add("--result-file");
        full.add(result.toString());
        Process process = null;
        try {
            Files.deleteIfExists(result);
            process = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            running.add(process);
            int exit = process.waitFor();
            double seconds = (System.nanoTime() - started) / 1e9;
            return read(trial, result, exit, seconds, log);
        } catch (IOException e) {
            return new TrialOutcome(trial, RunStatus.FAILED, null, Map.of(), (System.nanoTime() - started) / 1e9,
                    "could not start the trial's process: " + e.getMessage(), log);
        } catch (InterruptedException e) {
            process.destroy();
            Thread.currentThread().interrupt();
            return new TrialOutcome(trial, RunStatus.KILLED, null, Map.of(), (System.nanoTime() - started) / 1e9,
                    "the sweep was interrupted", log);
        } finally {
            if (process != null) {
                running.remove(process);
            }
        }
    }

    /** Asks every running trial to stop (TERM: each marks its run KILLED and flushes its tracker). */
    void stopAll() {
        running.forEach(Process::destroy);
    }

    private static TrialOutcome read(Trial trial, Path result, int exit, double seconds, Path log) throws IOException {
        if (!Files.exists(result)) {
            String tail = tail(log, 8);
            String last = tail.lines().map(String::strip).filter(l -> !l.isEmpty()).reduce((a, b) -> b).orElse("no output");
            return new TrialOutcome(trial, RunStatus.FAILED, null, Map.of(), seconds, "exit code " + exit
                    + " before the run started: " + last + "\nlast lines of " + log.getFileName() + ":\n" + tail, log);
        }
        JsonObject json = JsonParser.parseString(Files.readString(result, StandardCharsets.UTF_8)).getAsJsonObject();
        Map<String, Double> metrics = new LinkedHashMap<>();
        if (json.has("metrics")) {
            json.getAsJsonObject("metrics").entrySet().forEach(e -> metrics.put(e.getKey(), e.getValue().getAsDouble()));
        }
        RunStatus status = RunStatus.valueOf(json.get("status").getAsString());
        String runId = json.has("run_id") && !json.get("run_id").isJsonNull() ? json.get("run_id").getAsString() : null;
        String message = json.has("message") && !json.get("message").isJsonNull() ? json.get("message").getAsString() : null;
        if (status == RunStatus.FINISHED && exit != 0 && message == null) {
            message = "finished with exit code " + exit + " (an evaluator failed; see " + log.getFileName() + ")";
        }
        return new TrialOutcome(trial, status, runId, metrics, seconds, message, log);
    }

    static String tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | java.io.UncheckedIOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }
}
