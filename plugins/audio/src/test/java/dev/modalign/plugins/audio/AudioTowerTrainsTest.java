package dev.modalign.plugins.audio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.core.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An experiment with an audio tower on the {@code cnn} encoder trains end to end through the
 * command line, with every audio augmentation on the loader threads: CLIP between short WAV clips
 * (a low, middle or high tone, steady or beeping, recorded at 22.05 kHz) and captions naming them,
 * evaluated by retrieval on clips drawn with another seed.
 */
class AudioTowerTrainsTest {

    @TempDir
    Path dir;

    private static final double[] PITCHES = {250, 1000, 4000};
    private static final String[] PITCH_WORDS = {"low", "middle", "high"};

    @Test
    void anAudioTowerOnTheCnnEncoderTrainsAndRetrievesAboveChance() throws IOException {
        manifest("train.csv", 96, 1);
        manifest("eval.csv", 36, 2);
        Path experiment = dir.resolve("audio.yaml");
        Files.writeString(experiment, """
                name: audio-e2e
                seed: 5
                data:
                  train: {source: manifest, path: train.csv, group_field: kind, fields: {audio: audio_path, text: caption}}
                  eval:  {source: manifest, path: eval.csv, group_field: kind, fields: {audio: audio_path, text: caption}}
                towers:
                  audio:
                    modality: {type: audio, max_seconds: 0.5, source_seconds: 1.0, n_mels: 32, pad_mode: repeat}
                    encoder: {type: cnn, channels: [16, 32], embed_dim: 32, max_stem_size: 32}
                  text:
                    modality: {type: text, tokenizer: word, max_len: 6}
                    encoder: {type: mlp, hidden: [32], embed_dim: 32}
                augment:
                  audio:
                    - {type: random-segment}
                    - {type: gain, min_db: -6, max_db: 6}
                    - {type: time-shift, max_seconds: 0.05}
                    - {type: spec-augment, freq_masks: 1, max_freq_width: 3, time_masks: 1, max_time_width: 5}
                losses:
                  - {type: clip, towers: [audio, text], temperature: 0.1}
                train: {epochs: 12, batch_size: 16, optimizer: {lr: 3e-3}, workers: 2, log_every: 10}
                evaluate:
                  - {type: retrieval, towers: [audio, text], k: [1]}
                """);
        Path plugins = Files.createDirectories(dir.resolve("no-plugins"));
        String out = run("run", experiment.toString(), "--runs-dir", dir.resolve("runs").toString(), "--plugin-dir",
                plugins.toString(), "--device", "cpu");
        double recall = metric(out, "eval/retrieval/audio_to_text/R_at_1");
        double chance = metric(out, "eval/retrieval/audio_to_text/chance_R_at_1");
        // Seeds 5, 6 and 7 all reach 1.0: six kinds of clip that differ in pitch and rhythm are easy to tell apart.
        assertTrue(chance < 0.2 && recall > 0.8, "audio-to-text R@1 " + recall + " (chance " + chance + ")\n" + out);
    }

    /** Clips of six kinds (three pitches, steady or beeping) with random level, phase and detuning. */
    private void manifest(String name, int count, long seed) throws IOException {
        Random random = new Random(seed);
        StringBuilder csv = new StringBuilder("audio_path,caption,kind\n");
        for (int i = 0; i < count; i++) {
            int pitch = i % 3;
            boolean beeping = (i / 3) % 2 == 1;
            int rate = 22050;
            int samples = (int) (rate * (0.6 + 0.3 * random.nextDouble()));
            double frequency = PITCHES[pitch] * (1 + 0.05 * (random.nextDouble() - 0.5));
            double amplitude = 0.1 + 0.5 * random.nextDouble();
            double phase = 2 * Math.PI * random.nextDouble();
            float[] x = new float[samples];
            for (int n = 0; n < samples; n++) {
                double on = beeping && ((n * 8 / rate) % 2 == 1) ? 0 : 1;
                x[n] = (float) (on * amplitude * Math.sin(2 * Math.PI * frequency * n / rate + phase)
                        + 0.01 * random.nextGaussian());
            }
            String file = name.replace(".csv", "") + "-" + i + ".wav";
            Files.write(dir.resolve(file), TestAudio.wav16(x, rate));
            String kind = PITCH_WORDS[pitch] + (beeping ? " beeping" : " steady");
            csv.append(file).append(",a ").append(kind).append(" tone,").append(kind).append('\n');
        }
        Files.writeString(dir.resolve(name), csv);
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
