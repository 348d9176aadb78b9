package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quickstart's towers, loader threads and augmentations give the same numbers for the same seed on CPU. */
class DeterminismTest {

    @TempDir
    Path dir;

    private String run(String seed, String workers) {
        Cli.Result result = Cli.run("run", Cli.repo().resolve("experiments/quickstart.yaml").toString(), "--device", "cpu",
                "--runs-dir", dir.toString(), "--set", "seed=" + seed, "--set", "train.workers=" + workers,
                "--set", "data.train.size=640", "--set", "train.max_steps=6", "--set", "data.eval.size=128");
        assertEquals(0, result.code(), result.err());
        Matcher loss = Pattern.compile("final loss ([0-9.]+)").matcher(result.out());
        Matcher recall = Pattern.compile("image_to_text/MRR +([0-9.]+)").matcher(result.out());
        loss.find();
        recall.find();
        return loss.group(1) + " " + recall.group(1);
    }

    @Test
    void sameSeedSameMetricsWhateverTheNumberOfLoaderThreads() {
        String first = run("11", "2");
        assertEquals(first, run("11", "2"));
        assertEquals(first, run("11", "1"), "loader threads must not change the result");
        assertNotEquals(first, run("12", "2"), "another seed trains differently");
    }
}
