package dev.modalign.core;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Experiment files for core's tests, written with the test plugin's components. */
public final class Experiments {

    private Experiments() {}

    /** A small experiment that trains in a second: two vector towers, the align loss, the mean-cosine evaluator. */
    public static final String TINY = """
            name: tiny
            seed: 3
            data:
              train: {source: pairs, size: 64, seed: 1}
              eval: {source: pairs, size: 32, seed: 2}
            towers:
              a: {modality: {type: vector, size: 8}, encoder: {type: linear, embed_dim: 8}}
              b: {modality: {type: vector, size: 8}, encoder: linear}
            losses:
              - {type: align, towers: [a, b], temperature: 0.5}
            train: {epochs: 3, batch_size: 16, workers: 2, log_every: 1, optimizer: {lr: 0.05, weight_decay: 0.0}}
            evaluate:
              - {type: mean-cosine, towers: [a, b]}
            """;

    public static Path write(Path dir, String name, String yaml) {
        try {
            return Files.writeString(dir.resolve(name), yaml);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
