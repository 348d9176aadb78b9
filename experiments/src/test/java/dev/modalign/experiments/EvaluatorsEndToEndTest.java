package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * experiments/evaluators.yaml as a user runs it: every evaluator's metrics are recorded, the
 * zero-shot classifier names shapes it was never trained to classify well above chance, the
 * zero-shot evaluation asked for every epoch is recorded at each epoch's last step, and the geometry
 * evaluator's projection plot is logged with the run.
 */
class EvaluatorsEndToEndTest {

    /** The shapes source's classes, in label order. */
    private static final List<String> SHAPES = List.of("circle", "square", "triangle", "cross", "ring");

    @TempDir
    Path dir;

    @Test
    void everyEvaluatorIsRecordedAndZeroShotBeatsChance() throws IOException {
        Cli.Result run = Cli.run("run", Cli.repo().resolve("experiments/evaluators.yaml").toString(), "--runs-dir",
                dir.toString());
        assertEquals(0, run.code(), run.err());
        assertFalse(run.out().contains("failed, the others go on"), "an evaluator failed:\n" + run.out());
        Path runDir;
        try (Stream<Path> runs = Files.list(dir.resolve("evaluators"))) {
            runDir = runs.findFirst().orElseThrow();
        }
        Map<String, TreeMap<Long, Double>> metrics = new TreeMap<>();
        List<String> artifacts = new ArrayList<>();
        Map<String, String> params = new TreeMap<>();
        for (String line : Files.readAllLines(runDir.resolve("records.jsonl"), StandardCharsets.UTF_8)) {
            JsonObject record = JsonParser.parseString(line).getAsJsonObject();
            JsonObject data = record.getAsJsonObject("data");
            switch (record.get("kind").getAsString()) {
                case "metric" -> metrics.computeIfAbsent(data.get("key").getAsString(), k -> new TreeMap<>())
                        .put(data.get("step").getAsLong(), data.get("value").getAsDouble());
                case "artifact" -> artifacts.add(data.get("path").getAsString());
                case "params" -> data.entrySet().forEach(e -> params.put(e.getKey(), e.getValue().getAsString()));
                default -> { }
            }
        }

        List<String> expected = new ArrayList<>(List.of(
                "eval/retrieval/image_to_text/R_at_1", "eval/retrieval/image_to_text/MRR", "eval/retrieval/image_to_text/mAP",
                "eval/retrieval/text_to_image/mAP",
                "eval/zero-shot/top1", "eval/zero-shot/top5", "eval/zero-shot/mean_per_class",
                "eval/linear-probe/top1", "eval/linear-probe/best_l2",
                "eval/knn/top1",
                "eval/few-shot/1_shot/accuracy", "eval/few-shot/1_shot/accuracy_std",
                "eval/few-shot/5_shot/accuracy", "eval/few-shot/5_shot/accuracy_std",
                "eval/geometry/alignment", "eval/geometry/uniformity/image", "eval/geometry/uniformity/text",
                "eval/geometry/modality_gap", "eval/geometry/gap_separability"));
        SHAPES.forEach(shape -> expected.add("eval/zero-shot/per_class/" + shape));
        for (String name : expected) {
            assertNotNull(metrics.get(name), "no metric " + name + " among " + metrics.keySet());
            metrics.get(name).values().forEach(value -> assertTrue(Double.isFinite(value), name + " = " + value));
        }

        // Zero-shot: five shapes, chance 1 in 5. Captions always name the shape among colour, size and
        // position, so "a circle" is never a training caption; the model must still have learnt the word.
        TreeMap<Long, Double> zeroShot = metrics.get("eval/zero-shot/top1");
        double chance = 1.0 / SHAPES.size();
        double finalTop1 = zeroShot.lastEntry().getValue();
        // The run is deterministic (one PyTorch thread): 0.372 on the machine it was written on.
        assertTrue(finalTop1 > 1.5 * chance, "zero-shot top1 " + finalTop1 + " is not well above chance " + chance);
        // every: 1 evaluates at the last step of each epoch but the last, whose evaluation is the final one,
        // logged after training at the step count.
        int epochs = Integer.parseInt(params.get("train.epochs"));
        assertTrue(epochs >= 3, "the experiment should train several epochs, found " + epochs);
        assertEquals(epochs, zeroShot.size(), "zero-shot evaluated at steps " + zeroShot.keySet());
        assertEquals(metrics.get("train/steps_per_sec").lastKey(), zeroShot.lastKey(), "the final evaluation's step");
        // Learning shows from epoch to epoch: the last epoch beats the first.
        assertTrue(finalTop1 > zeroShot.firstEntry().getValue(), "zero-shot over the epochs: " + zeroShot);
        // The other evaluators run once, after training.
        assertEquals(1, metrics.get("eval/knn/top1").size(), metrics.get("eval/knn/top1").toString());

        assertTrue(metrics.get("eval/linear-probe/top1").lastEntry().getValue() > chance, metrics.toString());
        assertTrue(metrics.get("eval/knn/top1").lastEntry().getValue() > chance, metrics.toString());

        assertTrue(artifacts.contains("eval/geometry/projection.png"), artifacts.toString());
        BufferedImage plot = ImageIO.read(runDir.resolve("artifacts/eval/geometry/projection.png").toFile());
        assertNotNull(plot, "projection.png is not an image");
        assertTrue(plot.getWidth() > 100 && plot.getHeight() > 100, plot.getWidth() + " x " + plot.getHeight());
    }
}
