package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A recorded run re-run from what its store holds reproduces it, and differences are named. */
class RerunTest {

    @TempDir
    Path dir;

    @Test
    void aRerunReproducesTheRunAndNamesWhatDiffers() throws IOException {
        Cli.Result first = Cli.run("run", Cli.repo().resolve("experiments/quickstart.yaml").toString(), "--runs-dir",
                dir.toString(), "--set", "data.train.size=512", "--set", "train.max_steps=5", "--set", "data.eval.size=64");
        assertEquals(0, first.code(), first.err());
        Matcher id = Pattern.compile("run (\\S+) recorded in").matcher(first.out());
        assertTrue(id.find(), first.out());
        String runId = id.group(1);

        Cli.Result same = Cli.run("rerun", runId, "--runs-dir", dir.toString());
        assertEquals(0, same.code(), same.err());
        assertTrue(same.out().contains("matches " + runId + " exactly"), same.out());

        // Pretend the run was made with another version of the clip plugin: the rerun must say so.
        Path records = dir.resolve("quickstart").resolve(runId).resolve("records.jsonl");
        Files.writeString(records, Files.readString(records).replace("\"modalign.plugin.clip\":\"0.1.0\"",
                "\"modalign.plugin.clip\":\"0.0.9\""));
        Cli.Result changed = Cli.run("rerun", runId, "--runs-dir", dir.toString());
        assertEquals(0, changed.code(), changed.err());
        assertTrue(changed.out().contains("differs: tag modalign.plugin.clip: 0.0.9 -> 0.1.0"), changed.out());

        Cli.Result missing = Cli.run("rerun", "no-such-run", "--runs-dir", dir.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no run 'no-such-run'"), missing.err());
    }
}
