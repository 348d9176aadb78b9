package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quickstart's model learns: on held-out shapes (another seed), image-to-text and
 * text-to-image retrieval are far above chance. A shorter budget than the quickstart's, so CI
 * stays fast; the quickstart itself reaches more (see README).
 */
class TrainingLearnsTest {

    @TempDir
    Path dir;

    @Test
    void retrievalOnHeldOutDataIsFarAboveChance() {
        Cli.Result run = Cli.run("run", Cli.repo().resolve("experiments/quickstart.yaml").toString(),
                "--runs-dir", dir.toString(), "--set", "data.train.size=4000", "--set", "train.epochs=3",
                "--set", "data.eval.size=500");
        assertEquals(0, run.code(), run.err());
        double imageToText = metric(run.out(), "eval/retrieval/image_to_text/R_at_1");
        double textToImage = metric(run.out(), "eval/retrieval/text_to_image/R_at_1");
        double chance = metric(run.out(), "eval/retrieval/image_to_text/chance_R_at_1");
        assertTrue(chance < 0.01, "chance level " + chance);
        assertTrue(imageToText > 10 * chance && imageToText > 0.05,
                "image-to-text R@1 " + imageToText + " is not far above chance " + chance);
        assertTrue(textToImage > 10 * chance && textToImage > 0.05,
                "text-to-image R@1 " + textToImage + " is not far above chance " + chance);
    }

    static double metric(String out, String name) {
        Matcher matcher = Pattern.compile(Pattern.quote(name) + " +([0-9.]+)").matcher(out);
        assertTrue(matcher.find(), "no metric " + name + " in:\n" + out);
        return Double.parseDouble(matcher.group(1));
    }
}
