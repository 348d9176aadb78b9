package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A corrupt image in a manifest fails the run naming its line and field, or is skipped and counted by a setting. */
class BadDataTest {

    @TempDir
    Path dir;

    private Path experiment() throws IOException {
        Path images = Files.createDirectories(dir.resolve("images"));
        String[] colours = {"red", "green", "blue", "white"};
        Color[] values = {Color.RED, Color.GREEN, Color.BLUE, Color.WHITE};
        List<String> rows = new ArrayList<>(List.of("image,caption"));
        for (int i = 0; i < 16; i++) {
            Path file = images.resolve(i + ".png");
            if (i == 5) {
                Files.write(file, new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2, 3}); // a truncated PNG
            } else {
                BufferedImage image = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
                for (int x = 0; x < 8; x++) {
                    for (int y = 0; y < 8; y++) {
                        image.setRGB(x, y, values[i % 4].getRGB());
                    }
                }
                ImageIO.write(image, "png", file.toFile());
            }
            rows.add("images/" + i + ".png,a " + colours[i % 4] + " square");
        }
        Files.write(dir.resolve("data.csv"), rows);
        return Files.writeString(dir.resolve("bad.yaml"), """
                name: bad-data
                seed: 1
                data:
                  train: {source: manifest, path: data.csv, path_fields: [image], fields: {image: image, text: caption}}
                  eval: {source: manifest, path: data.csv, path_fields: [image], fields: {image: image, text: caption}}
                towers:
                  image: {modality: {type: image, size: 8}, encoder: {type: mlp, embed_dim: 8}}
                  text: {modality: {type: text, max_len: 8}, encoder: {type: mlp, embed_dim: 8}}
                losses:
                  - {type: clip, towers: [image, text]}
                train: {epochs: 1, batch_size: 4, workers: 2}
                evaluate:
                  - {type: retrieval, towers: [image, text]}
                """);
    }

    @Test
    void aCorruptImageFailsTheRunNamingItsLineAndField() throws IOException {
        Path file = experiment();
        Cli.Result result = Cli.run("run", file.toString(), "--device", "cpu", "--runs-dir", dir.resolve("runs").toString());
        assertEquals(1, result.code(), result.out() + result.err());
        assertTrue(result.err().contains("data.csv:7 field 'image'"), result.err());
    }

    @Test
    void withSkipTheRunFinishesAndCountsWhatItSkipped() throws IOException {
        Path file = experiment();
        Cli.Result result = Cli.run("run", file.toString(), "--device", "cpu", "--runs-dir", dir.resolve("runs").toString(),
                "--set", "train.on_data_error=skip");
        assertEquals(0, result.code(), result.out() + result.err());
        // Once in training, once in evaluation.
        assertTrue(result.out().contains("skipped 2 records that failed to load"), result.out());
        assertTrue(result.out().contains("data.csv:7 field 'image'"), result.out());
    }

    /**
     * Runs the experiment (every image sound) for many short epochs and deletes one image file once the
     * first step is logged: the next read of it, in training or in the final evaluation, finds it gone.
     */
    private Cli.Result runWhileAnImageVanishes(String onDataError) throws Exception {
        Path file = experiment();
        Files.copy(dir.resolve("images/1.png"), dir.resolve("images/5.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path runs = dir.resolve("runs-" + onDataError);
        java.util.concurrent.atomic.AtomicReference<Exception> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread remover = new Thread(() -> {
            try {
                long deadline = System.currentTimeMillis() + 120_000;
                while (System.currentTimeMillis() < deadline) {
                    Path experimentRuns = runs.resolve("bad-data");
                    if (Files.isDirectory(experimentRuns)) {
                        try (java.util.stream.Stream<Path> found = Files.list(experimentRuns)) {
                            // The run's directory can appear before its records file: wait for both.
                            Path records = found.map(run -> run.resolve("records.jsonl")).filter(Files::isRegularFile)
                                    .findFirst().orElse(null);
                            if (records != null && readQuietly(records).contains("\"train/loss\"")) {
                                Files.delete(dir.resolve("images/9.png"));
                                return;
                            }
                        }
                    }
                    Thread.sleep(2);
                }
            } catch (IOException | InterruptedException e) {
                failure.set(e);
            }
        });
        remover.start();
        Cli.Result result = Cli.run("run", file.toString(), "--device", "cpu", "--runs-dir", runs.toString(),
                "--set", "train.epochs=60", "--set", "train.log_every=1", "--set", "train.on_data_error=" + onDataError);
        remover.join();
        assertTrue(failure.get() == null, () -> "the remover failed: " + failure.get());
        assertTrue(!Files.exists(dir.resolve("images/9.png")), "the file was removed during the run");
        return result;
    }

    /** The records file is appended while it is read: a partial read is fine, a vanished one reads empty. */
    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }

    @Test
    void aDataFileThatVanishesMidRunFailsTheRunNamingIt() throws Exception {
        Cli.Result result = runWhileAnImageVanishes("fail");
        assertEquals(1, result.code(), result.out() + result.err());
        assertTrue(result.err().matches("(?s).*failed: .*data\\.csv:11 field 'image': no image file at .*images/9\\.png.*"),
                result.err());
        assertTrue(!result.err().contains("\tat "), "no stack trace: " + result.err());
    }

    @Test
    void aDataFileThatVanishesMidRunIsSkippedAndCountedWithSkip() throws Exception {
        Cli.Result result = runWhileAnImageVanishes("skip");
        assertEquals(0, result.code(), result.out() + result.err());
        assertTrue(result.out().matches("(?s).*skipped \\d+ records? that failed to load.*data\\.csv:11 field 'image': no image"
                + " file at .*images/9\\.png.*"), result.out());
    }
}
