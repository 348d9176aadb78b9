package dev.modalign.core.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import dev.modalign.core.Experiments;
import dev.modalign.core.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Experiments in stages: a later stage's tower starts from an earlier stage's, frozen or not. */
class StagesTest {

    @TempDir
    Path dir;

    /** Stage 'first' trains both towers; stage 'locked' keeps tower a from it, frozen, and trains a new b (LiT's recipe). */
    static final String STAGED = Experiments.TINY + """
            stages:
              first: {}
              locked:
                train: {epochs: 2}
                towers:
                  a: {init_from: 'stage:first/a', frozen: true}
            """;

    private record Outcome(int code, String printed) {}

    private Outcome run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream original = System.out;
        System.setOut(print);
        try {
            int code = Main.execute(args, print, print);
            return new Outcome(code, out.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(original);
        }
    }

    private Path runDir(String runName) throws IOException {
        try (Stream<Path> runs = Files.list(dir.resolve("runs/tiny"))) {
            for (Path run : runs.toList()) {
                String name = JsonParser.parseString(Files.readString(run.resolve("run.json"))).getAsJsonObject()
                        .get("run_name").getAsString();
                if (name.equals(runName)) {
                    return run;
                }
            }
        }
        throw new AssertionError("no run named " + runName);
    }

    @Test
    void aFrozenTowerFromAnEarlierStageEndsBitIdenticalAndTheOtherTrains() throws IOException {
        Path file = Experiments.write(dir, "staged.yaml", STAGED);
        Outcome outcome = run("run", file.toString(), "--runs-dir", dir.resolve("runs").toString(), "--device", "cpu");
        assertEquals(Main.OK, outcome.code(), outcome.printed());
        assertTrue(outcome.printed().contains("stage 2/2: locked"), outcome.printed());
        // The frozen tower is encoded once per input: its second epoch comes from memory.
        assertTrue(outcome.printed().matches("(?s).*frozen tower 'a': \\d+ inputs encoded once, [1-9]\\d* batches served"
                + " from memory.*"), outcome.printed());

        Path first = runDir("tiny-first");
        Path locked = runDir("tiny-locked");
        byte[] pretrainedA = Files.readAllBytes(first.resolve("artifacts/checkpoint/a.params"));
        assertArrayEquals(pretrainedA, Files.readAllBytes(locked.resolve("artifacts/checkpoint/a.params")),
                "the frozen tower leaves training exactly as it came from the first stage");
        assertFalse(Arrays.equals(Files.readAllBytes(first.resolve("artifacts/checkpoint/b.params")),
                Files.readAllBytes(locked.resolve("artifacts/checkpoint/b.params"))), "tower b was trained again");
        String records = Files.readString(locked.resolve("records.jsonl"));
        String firstId = first.getFileName().toString();
        assertTrue(records.contains("\"modalign.init_from.a\":\"run:" + firstId + "/a\""), "the start is recorded");
        assertTrue(records.contains("\"towers.a.init_from\":\"run:" + firstId + "/a\""), "and re-runnable from params");
    }

    @Test
    void aTowerStartsFromAnyEarlierRunById() throws IOException {
        Path file = Experiments.write(dir, "tiny.yaml", Experiments.TINY);
        assertEquals(Main.OK, run("run", file.toString(), "--runs-dir", dir.resolve("runs").toString()).code());
        Path earlier;
        try (Stream<Path> runs = Files.list(dir.resolve("runs/tiny"))) {
            earlier = runs.findFirst().orElseThrow();
        }
        Outcome again = run("run", file.toString(), "--runs-dir", dir.resolve("runs").toString(), "--set",
                "towers.a.init_from=run:" + earlier.getFileName(), "--set", "towers.a.frozen=true", "--set",
                "tracking.run_name=again");
        assertEquals(Main.OK, again.code(), again.printed());
        assertArrayEquals(Files.readAllBytes(earlier.resolve("artifacts/checkpoint/a.params")),
                Files.readAllBytes(runDir("again").resolve("artifacts/checkpoint/a.params")));

        Outcome missing = run("run", file.toString(), "--runs-dir", dir.resolve("runs").toString(), "--set",
                "towers.a.init_from=run:no-such-run");
        assertEquals(Main.BAD_INPUT, missing.code(), missing.printed());
        assertTrue(missing.printed().contains("the tracker has no checkpoint/a.params of run 'no-such-run'"), missing.printed());
    }

    @Test
    void aStageCannotStartFromItselfOrALaterStage() {
        for (List<String> bad : List.of(List.of("first", "is itself"), List.of("second", "runs after it"))) {
            String yaml = Experiments.TINY + """
                    stages:
                      first:
                        towers:
                          a: {init_from: 'stage:%s/a'}
                      second: {}
                    """.formatted(bad.get(0));
            Path file = Experiments.write(dir, "cycle.yaml", yaml);
            for (String command : List.of("run", "validate")) {
                Outcome outcome = command.equals("run") ? run(command, file.toString(), "--runs-dir",
                        dir.resolve("runs").toString()) : run(command, file.toString());
                assertEquals(Main.BAD_INPUT, outcome.code(), outcome.printed());
                assertTrue(outcome.printed().contains("cycle.yaml:17:") && outcome.printed().contains(
                        "stages.first.towers.a.init_from stages run in order, so stage 'first' cannot start from stage '"
                                + bad.get(0) + "', which " + bad.get(1)), outcome.printed());
            }
        }
        assertFalse(Files.exists(dir.resolve("runs")), "nothing ran");
    }

    @Test
    void validateChecksEveryStage() {
        Path file = Experiments.write(dir, "staged.yaml", STAGED);
        Outcome outcome = run("validate", file.toString());
        assertEquals(Main.OK, outcome.code(), outcome.printed());
        assertTrue(outcome.printed().contains("stage first ok") && outcome.printed().contains("stage locked ok"),
                outcome.printed());
    }
}
