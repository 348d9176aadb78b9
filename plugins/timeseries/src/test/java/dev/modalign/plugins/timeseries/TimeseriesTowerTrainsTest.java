package dev.modalign.plugins.timeseries;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.core.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An experiment with a timeseries tower on the {@code mlp} encoder (layout flat) trains end to end
 * through the command line, with every series augmentation on the loader threads: CLIP between
 * two-channel series (rising, falling, fast or slow oscillation; the second channel follows or
 * opposes the first) and captions naming them. Training records are CSV files named in a CSV
 * manifest; evaluation records, drawn with another seed, are JSON arrays in a JSON Lines manifest.
 */
class TimeseriesTowerTrainsTest {

    @TempDir
    Path dir;

    private static final String[] SHAPES = {"rising", "falling", "fast", "slow"};

    @Test
    void aTimeseriesTowerOnTheMlpEncoderTrainsAndRetrievesAboveChance() throws IOException {
        trainsAndRetrieves("flat", "{type: mlp, hidden: [64], embed_dim: 32}");
    }

    /** Layout image: [B, 1, channels, window] for the cnn, whose 3 x 3 convolutions then span both channels. */
    @Test
    void aTimeseriesTowerOnTheCnnEncoderTrainsAndRetrievesAboveChance() throws IOException {
        trainsAndRetrieves("image", "{type: cnn, channels: [16, 32], embed_dim: 32}");
    }

    private void trainsAndRetrieves(String layout, String encoder) throws IOException {
        csvRecords("train.csv", 128, 1);
        jsonRecords("eval.jsonl", 48, 2);
        Path experiment = dir.resolve("series.yaml");
        Files.writeString(experiment, """
                name: timeseries-e2e
                seed: 5
                data:
                  train: {source: manifest, path: train.csv, group_field: kind, fields: {series: series_path, text: caption}}
                  eval:  {source: manifest, path: eval.jsonl, group_field: kind, fields: {series: series, text: caption}}
                towers:
                  series:
                    modality: {type: timeseries, channels: 2, window: 64, stride: 2, position: centre, layout: %s}
                    encoder: %s
                  text:
                    modality: {type: text, tokenizer: word, max_len: 8}
                    encoder: {type: mlp, hidden: [32], embed_dim: 32}
                augment:
                  series:
                    - {type: random-window}
                    - {type: jitter, sigma: 0.05}
                    - {type: scaling, sigma: 0.1}
                    - {type: window-slice, ratio: 0.9, p: 0.5}
                    - {type: time-warp, sigma: 0.1, p: 0.5}
                losses:
                  - {type: clip, towers: [series, text], temperature: 0.1}
                train: {epochs: 10, batch_size: 16, optimizer: {lr: 3e-3}, workers: 2, log_every: 20}
                evaluate:
                  - {type: retrieval, towers: [series, text], k: [1]}
                """.formatted(layout, encoder));
        Path plugins = Files.createDirectories(dir.resolve("no-plugins"));
        String out = run("run", experiment.toString(), "--runs-dir", dir.resolve("runs").toString(), "--plugin-dir",
                plugins.toString(), "--device", "cpu");
        double recall = metric(out, "eval/retrieval/series_to_text/R_at_1");
        double chance = metric(out, "eval/retrieval/series_to_text/chance_R_at_1");
        // Seeds 5, 6 and 7 reach 0.94 to 0.98 with either encoder, against a chance of 0.125.
        assertTrue(chance < 0.2 && recall > 0.6, layout + ": series-to-text R@1 " + recall + " (chance " + chance + ")\n" + out);
    }

    /** Record i: shape i % 4, second channel following (even i / 4) or opposing; 80 to 120 steps, noisy. */
    private static float[][] series(int i, Random random) {
        int shape = i % 4;
        boolean opposed = (i / 4) % 2 == 1;
        int length = 80 + random.nextInt(41);
        double level = 10 * random.nextGaussian();
        double scale = 1 + random.nextDouble();
        double phase = 2 * Math.PI * random.nextDouble();
        float[][] steps = new float[length][2];
        for (int t = 0; t < length; t++) {
            double u = (double) t / length;
            double x = switch (shape) {
                case 0 -> u;
                case 1 -> -u;
                case 2 -> 0.5 * Math.sin(2 * Math.PI * 12 * u + phase);
                default -> 0.5 * Math.sin(2 * Math.PI * 2 * u + phase);
            };
            steps[t][0] = (float) (level + scale * (x + 0.05 * random.nextGaussian()));
            steps[t][1] = (float) (opposed ? -x : x) + (float) (0.05 * random.nextGaussian());
        }
        return steps;
    }

    private static String kind(int i) {
        return SHAPES[i % 4] + ((i / 4) % 2 == 1 ? " opposed" : " together");
    }

    private void csvRecords(String name, int count, long seed) throws IOException {
        Random random = new Random(seed);
        StringBuilder manifest = new StringBuilder("series_path,caption,kind\n");
        for (int i = 0; i < count; i++) {
            StringBuilder csv = new StringBuilder("x,y\n");
            for (float[] step : series(i, random)) {
                csv.append(String.format(Locale.ROOT, "%.5f,%.5f%n", step[0], step[1]));
            }
            String file = "series-" + i + ".csv";
            Files.writeString(dir.resolve(file), csv);
            manifest.append(file).append(",").append(caption(i)).append(",").append(kind(i)).append('\n');
        }
        Files.writeString(dir.resolve(name), manifest);
    }

    private void jsonRecords(String name, int count, long seed) throws IOException {
        Random random = new Random(seed);
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < count; i++) {
            StringBuilder array = new StringBuilder("[");
            float[][] steps = series(i, random);
            for (int t = 0; t < steps.length; t++) {
                array.append(t == 0 ? "" : ", ").append(String.format(Locale.ROOT, "[%.5f, %.5f]", steps[t][0], steps[t][1]));
            }
            array.append("]");
            lines.append("{\"series\": ").append(array).append(", \"caption\": \"").append(caption(i))
                    .append("\", \"kind\": \"").append(kind(i)).append("\"}\n");
        }
        Files.writeString(dir.resolve(name), lines);
    }

    private static String caption(int i) {
        String[] words = {"a rising series", "a falling series", "a fast oscillation", "a slow oscillation"};
        return words[i % 4] + ((i / 4) % 2 == 1 ? " with opposed channels" : " with channels together");
    }

    private static synchronized String run(String... args) {
        PrintStream originalOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (PrintStream capturedOut = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream capturedErr = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(capturedOut);
            int code = Main.execute(args, capturedOut, capturedErr);
            String text = out.toString(StandardCharsets.UTF_8);
            assertEquals(0, code, "exit code; stderr:\n" + err.toString(StandardCharsets.UTF_8) + "\nstdout:\n" + text);
            return text;
        } finally {
            System.setOut(originalOut);
        }
    }

    private static double metric(String out, String name) {
        Matcher matcher = Pattern.compile(Pattern.quote(name) + " +([0-9.]+)").matcher(out);
        assertTrue(matcher.find(), "no metric " + name + " in:\n" + out);
        return Double.parseDouble(matcher.group(1));
    }
}
