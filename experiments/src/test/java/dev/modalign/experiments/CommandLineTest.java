package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user meets it: exit codes, messages, the experiments that ship. */
class CommandLineTest {

    @TempDir
    Path dir;

    /** The real data set an experiment reads (data/NAME/, made by scripts/prepare-data NAME), if any. */
    private static final Pattern PREPARED_DATA = Pattern.compile("\\.\\./data/([a-z-]+)/");

    @Test
    void everyShippedExperimentValidatesOrNamesTheDataItStillNeeds() throws IOException {
        List<Path> files;
        try (Stream<Path> walk = Files.walk(Cli.repo().resolve("experiments"), 2)) {
            files = walk.filter(p -> p.toString().endsWith(".yaml") && !p.toString().contains("/target/")).sorted().toList();
        }
        assertTrue(files.size() > 5, files.toString());
        for (Path file : files) {
            Matcher data = PREPARED_DATA.matcher(Files.readString(file));
            boolean prepared = !data.find() || Files.isDirectory(Cli.repo().resolve("data").resolve(data.group(1)));
            Cli.Result result = Cli.run("validate", file.toString());
            if (prepared) {
                assertEquals(0, result.code(), file + ": " + result.err());
                assertTrue(result.out().contains(file.getFileName() + ": ok"), result.out());
            } else {
                // Before scripts/prepare-data: a located error naming the missing file, not a crash.
                assertEquals(2, result.code(), file + ": " + result.out() + result.err());
                assertTrue(result.err().contains("data/" + data.group(1) + "/"), result.err());
            }
        }
    }

    @Test
    void aBrokenExperimentExitsWithTwoAndALocatedMessageWithoutAStackTrace() throws IOException {
        String quickstart = Files.readString(Cli.repo().resolve("experiments/quickstart.yaml"));
        Path broken = Files.writeString(dir.resolve("broken.yaml"), quickstart.replace("type: clip", "type: clipp")
                .replaceFirst("epochs: \\d+", "epochs: six"));
        Cli.Result result = Cli.run("validate", broken.toString());
        assertEquals(2, result.code());
        assertTrue(result.err().contains("2 errors:"), result.err());
        assertTrue(result.err().matches("(?s).*broken\\.yaml:\\d+:\\d+ losses\\[0\\] unknown loss 'clipp', did you mean 'clip'\\?.*"),
                result.err());
        assertTrue(result.err().matches("(?s).*broken\\.yaml:\\d+:\\d+ train\\.epochs expected an integer, found 'six'.*"),
                result.err());
        assertFalse(result.err().contains("\tat "), "no stack trace for a user error:\n" + result.err());
    }

    @Test
    void aMissingFileAndAnUnknownOptionAreBadInput() {
        Cli.Result missing = Cli.run("run", dir.resolve("nope.yaml").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no such file"), missing.err());
        Cli.Result unknown = Cli.run("run", "--frobnicate", "x.yaml");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("Unknown option: '--frobnicate'"), unknown.err());
    }

    @Test
    void helpIsThereForEveryCommand() {
        for (String command : List.of("run", "validate", "plugins")) {
            Cli.Result help = Cli.run(command, "--help");
            assertEquals(0, help.code(), command);
            assertTrue(help.out().contains("Usage: modalign " + command), help.out());
        }
    }

    @Test
    void pluginsListsEveryBuiltInComponentWithPluginAndVersion() {
        Cli.Result result = Cli.run("plugins", "--plugin-dir", dir.toString());
        assertEquals(0, result.code(), result.err());
        for (String line : List.of("modalities:", "encoders:", "losses:", "augmentations:", "evaluators:",
                "dataset sources:", "  cnn ", "  transformer ", "  mlp ", "  retrieval ", "  shapes ", "  manifest ")) {
            assertTrue(result.out().contains(line), "missing '" + line + "' in:\n" + result.out());
        }
        assertTrue(result.out().matches("(?s).*\\n  clip +clip +0\\.1\\.0 .*Learning Transferable Visual Models.*"), result.out());
    }
}
