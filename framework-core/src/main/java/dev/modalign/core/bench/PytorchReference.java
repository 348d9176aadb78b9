package dev.modalign.core.bench;

import dev.modalign.api.ImageSpec;
import dev.modalign.api.InputSpec;
import dev.modalign.api.TokenSpec;
import dev.modalign.api.VectorSpec;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.compose.Tower;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The PyTorch eager reference: {@code scripts/reference/pytorch_reference.py} run in its own Python
 * process. It builds the same models as the composed run from a model card this class writes (each
 * tower's input shape and resolved encoder parameters, the resolved losses and training settings),
 * trains them with torch.optim.AdamW and clip_grad_norm_ as a PyTorch user would, and prints one JSON
 * line with its steps/s, the FLOPs of a step (counted by torch.utils.flop_counter), its peak resident
 * memory, its number of trained values (which the bench holds against the run's, so that a reference
 * that does not mirror the configuration is noticed) and, when asked, the GFLOP/s of a 2048^3 matrix
 * product.
 *
 * @param python the Python interpreter that has torch
 * @param script the reference script
 */
public record PytorchReference(Path python, Path script) {

    /** What one reference run printed. */
    public record Measurement(double stepsPerSecond, double flopsPerStep, long peakBytes, double gemmGflops,
            String torchVersion, double parameters, Map<String, Double> phaseMillis) {}

    /** Writes the model card of {@code plan} for the reference; the caller deletes the file. */
    public static Path writeCard(RunPlan plan) {
        Map<String, Object> card = new LinkedHashMap<>();
        card.put("name", plan.spec().name());
        card.put("seed", plan.spec().seed());
        card.put("train", plan.resolved().get("train"));
        List<Map<String, Object>> towers = new ArrayList<>();
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> resolvedTowers = (Map<String, Map<String, Object>>) plan.resolved().get("towers");
        for (Tower tower : plan.towers()) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("name", tower.name());
            Map<String, Object> input = input(tower.modality().spec());
            if (tower.modality().spec() instanceof TokenSpec) {
                input.put("lengths", tokenLengths(plan, tower));
            }
            entry.put("input", input);
            entry.put("encoder", resolvedTowers.get(tower.name()).get("encoder"));
            entry.put("frozen", tower.frozen());
            towers.add(entry);
        }
        card.put("towers", towers);
        card.put("losses", plan.resolved().get("losses"));
        DumperOptions options = new DumperOptions();
        options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        try {
            Path file = Files.createTempFile("modalign-bench-card", ".yaml");
            // The caller deletes it; this covers a bench stopped with Ctrl-C in the middle of a configuration.
            file.toFile().deleteOnExit();
            Files.writeString(file, new Yaml(options).dump(card));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The token counts of the first records of the training set as the tower reads them (before
     * augmentation), so that the reference pads its batches to the lengths the run's batches have.
     */
    private static List<Integer> tokenLengths(RunPlan plan, Tower tower) {
        Tower reading = plan.train().towersReading(List.of(tower)).get(0);
        @SuppressWarnings("unchecked")
        dev.modalign.api.Modality<Object> modality = (dev.modalign.api.Modality<Object>) tower.modality();
        long records = Math.min(plan.train().source().size(), 512);
        List<Integer> lengths = new ArrayList<>();
        for (long i = 0; i < records; i++) {
            dev.modalign.api.DataRecord record = plan.train().source().get(i);
            Object example = modality.decode(record.field(reading.field()), record.origin());
            lengths.add(((dev.modalign.api.TokenExample) example).ids().length);
        }
        return lengths;
    }

    private static Map<String, Object> input(InputSpec spec) {
        Map<String, Object> input = new LinkedHashMap<>();
        input.put("kind", spec.kind());
        if (spec instanceof VectorSpec vector) {
            input.put("size", vector.size());
        } else if (spec instanceof ImageSpec image) {
            input.put("channels", image.channels());
            input.put("height", image.height());
            input.put("width", image.width());
        } else if (spec instanceof TokenSpec tokens) {
            input.put("vocabulary_size", tokens.vocabularySize());
            input.put("max_length", tokens.maxLength());
            input.put("pad_id", tokens.padId());
        }
        return input;
    }

    /**
     * Runs the reference once for the model card {@code card}.
     *
     * @param gemm also measure a 2048^3 matrix product
     */
    public Measurement run(Path card, int threads, int warmup, int steps, boolean gemm) {
        return run(card, threads, warmup, steps, gemm, false);
    }

    /**
     * Removes from the reference's environment what the {@code modalign} launcher set on its own (listed
     * in {@code MODALIGN_DEFAULTED_ENV}: the OpenMP spin count it chooses for modalign's threads), so that
     * the reference runs with PyTorch's defaults, as a user runs it; what the user set stays.
     */
    static void withoutLauncherDefaults(Map<String, String> environment) {
        launcherDefaults(environment).forEach(environment::remove);
        environment.remove("MODALIGN_DEFAULTED_ENV");
    }

    /** The names of the variables the launcher set on its own, from {@code MODALIGN_DEFAULTED_ENV} in {@code environment}. */
    static List<String> launcherDefaults(Map<String, String> environment) {
        return java.util.Arrays.stream(environment.getOrDefault("MODALIGN_DEFAULTED_ENV", "").trim().split("\\s+"))
                .filter(name -> !name.isEmpty()).toList();
    }

    /**
     * Runs the reference once for the model card {@code card}.
     *
     * @param gemm also measure a 2048^3 matrix product
     * @param phases also time the step's phases (in separate steps after the timed ones, so that the
     *     steps/s is not taken with the phase clock running)
     */
    public Measurement run(Path card, int threads, int warmup, int steps, boolean gemm, boolean phases) {
        List<String> command = new ArrayList<>(List.of(python.toString(), script.toString(), "--card", card.toString(),
                "--threads", String.valueOf(threads), "--warmup", String.valueOf(warmup), "--steps", String.valueOf(steps)));
        if (gemm) {
            command.add("--gemm");
        }
        if (phases) {
            command.add("--phases");
        }
        Path log = null;
        try {
            log = Files.createTempFile("modalign-bench-reference", ".log");
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            withoutLauncherDefaults(builder.environment());
            Process process = builder.start();
            if (!process.waitFor(30, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IllegalStateException("the PyTorch reference ran for more than 30 minutes: " + command);
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            if (process.exitValue() != 0) {
                throw new IllegalStateException("the PyTorch reference failed (exit " + process.exitValue() + "): "
                        + String.join(" ", command) + "\n" + tail(output));
            }
            return parse(output);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run the PyTorch reference " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the PyTorch reference ran", e);
        } finally {
            if (log != null) {
                log.toFile().delete();
            }
        }
    }

    /** The last line of {@code output} that is a JSON object. */
    static Measurement parse(String output) {
        String[] lines = output.strip().split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            String line = lines[i].strip();
            if (line.startsWith("{")) {
                Object parsed = new Yaml(new SafeConstructor(new LoaderOptions())).load(line);
                if (parsed instanceof Map<?, ?> map) {
                    Map<String, Double> phases = new LinkedHashMap<>();
                    if (map.get("phases_ms") instanceof Map<?, ?> timed) {
                        timed.forEach((name, value) -> phases.put(String.valueOf(name), Double.parseDouble(String.valueOf(value))));
                    }
                    return new Measurement(number(map, "steps_per_sec"), number(map, "flops_per_step"),
                            (long) number(map, "peak_rss_bytes"), number(map, "gemm_gflops"),
                            String.valueOf(map.get("torch")), number(map, "parameters"), phases);
                }
            }
        }
        throw new IllegalStateException("the PyTorch reference printed no result line:\n" + tail(output));
    }

    /** A number from the JSON line; JSON's 1e+20 has no dot, which YAML 1.1 reads as text, so parse the text. */
    private static double number(Map<?, ?> map, String key) {
        Object value = map.get(key);
        if (value == null) {
            return Double.NaN;
        }
        return Double.parseDouble(String.valueOf(value));
    }

    private static String tail(String output) {
        String[] lines = output.split("\n");
        return String.join("\n", java.util.Arrays.asList(lines).subList(Math.max(0, lines.length - 20), lines.length));
    }
}
