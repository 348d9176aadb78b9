package dev.modalign.plugins.evaluators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Zero-shot classification against prompt embeddings chosen by hand. */
class ZeroShotEvaluatorTest extends ManagerPerTest {

    private static final double EXACT = 1e-12;

    /** What the prompt tower was asked to encode, in order. */
    private final List<String> encoded = new ArrayList<>();

    /**
     * In the plane, by angle: "a cat" at 0 degrees and "the cat" at 90 make the ensembled cat
     * 45; both dog prompts lie at 60. A cat image at 40 degrees is nearer the dog prompt (20 away)
     * than "a cat" (40 away), but nearer the ensembled cat (5) than the dog (20): only the ensemble
     * gets it right. A dog image at 75 degrees is right either way.
     */
    @Test
    void aPromptEnsembleAveragesTheNormalisedPrompts() {
        Map<String, float[]> prompts = Map.of("a cat", at(0, 3), "the cat", at(90, 0.5), "a dog", at(60, 2),
                "the dog", at(60, 1));
        FixedEvalContext context = context(new float[][] {at(40, 1), at(75, 1)}, prompts).labels(0, 1);

        Map<String, Double> single = evaluate(new ZeroShotEvaluator.Params(List.of("cat", "dog"), null, List.of("a {}")),
                context);
        assertEquals(List.of("a cat", "a dog"), encoded);
        assertEquals(0.5, single.get("top1"), EXACT);
        assertEquals(0.0, single.get("per_class/cat"), EXACT);
        assertEquals(1.0, single.get("per_class/dog"), EXACT);

        encoded.clear();
        Map<String, Double> ensemble = evaluate(new ZeroShotEvaluator.Params(List.of("cat", "dog"), null,
                List.of("a {}", "the {}")), context);
        assertEquals(List.of("a cat", "the cat", "a dog", "the dog"), encoded);
        assertEquals(1.0, ensemble.get("top1"), EXACT);
        assertEquals(1.0, ensemble.get("mean_per_class"), EXACT);
        // Two classes: the top-5 is capped at both, always a hit.
        assertEquals(1.0, ensemble.get("top5"), EXACT);
        assertEquals(List.of("top1", "top5", "mean_per_class", "per_class/cat", "per_class/dog"),
                List.copyOf(ensemble.keySet()));
    }

    /** Three cats right and one dog wrong: top1 3/4, but the mean over the two classes is (1 + 0) / 2. */
    @Test
    void meanPerClassWeighsClassesEqually() {
        Map<String, float[]> prompts = Map.of("cat", at(0, 1), "dog", at(90, 1), "car", at(180, 1));
        FixedEvalContext context = context(new float[][] {at(10, 1), at(-20, 1), at(5, 1), at(170, 1)}, prompts)
                .labels(0, 0, 0, 1);
        Map<String, Double> metrics = evaluate(new ZeroShotEvaluator.Params(List.of("cat", "dog", "car"), null,
                List.of("{}")), context);
        assertEquals(3 / 4.0, metrics.get("top1"), EXACT);
        assertEquals(0.5, metrics.get("mean_per_class"), EXACT);
        // The dog image at 170 degrees ranks car, dog, cat: dog is second, within the (capped) top 5.
        assertEquals(1.0, metrics.get("top5"), EXACT);
        // No record is a car, so it gets no per-class metric.
        assertTrue(!metrics.containsKey("per_class/car"), metrics.toString());
    }

    @Test
    void identicalPromptsTieAtChance() {
        Map<String, float[]> prompts = Map.of("cat", at(30, 1), "dog", at(30, 2), "car", at(30, 5));
        FixedEvalContext context = context(new float[][] {at(0, 1), at(90, 1)}, prompts).labels(0, 2);
        Map<String, Double> metrics = evaluate(new ZeroShotEvaluator.Params(List.of("cat", "dog", "car"), null,
                List.of("{}")), context);
        assertEquals(1 / 3.0, metrics.get("top1"), 1e-9);
        assertEquals(1.0, metrics.get("top5"), EXACT);
    }

    @Test
    void oneClassIsAlwaysRight() {
        FixedEvalContext context = context(new float[][] {at(0, 1), at(200, 1)}, Map.of("thing", at(90, 1))).labels(0, 0);
        Map<String, Double> metrics = evaluate(new ZeroShotEvaluator.Params(List.of("thing"), null, List.of("{}")), context);
        assertEquals(1.0, metrics.get("top1"), EXACT);
    }

    @Test
    void classNamesComeFromAFileBesideTheExperiment(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("classes.txt"), "cat\n\n  dog  \n");
        ZeroShotEvaluator evaluator = new ZeroShotEvaluator(new ZeroShotEvaluator.Params(null, "classes.txt", List.of("{}")),
                TestContext.builder().optTowers(List.of("image", "text"), 2).optBaseDir(dir).build());
        assertEquals(List.of("cat", "dog"), evaluator.classNames());

        InvalidParamException missing = assertThrows(InvalidParamException.class, () -> new ZeroShotEvaluator(
                new ZeroShotEvaluator.Params(null, "nope.txt", List.of("{}")),
                TestContext.builder().optTowers(List.of("image", "text"), 2).optBaseDir(dir).build()));
        assertEquals("classes_file", missing.key());
        assertTrue(missing.getMessage().contains("nope.txt") && missing.getMessage().contains("relative to the experiment"),
                missing.getMessage());
    }

    @Test
    void withoutLabelsTheErrorSaysWhereToAddThem() {
        FixedEvalContext context = context(new float[][] {at(0, 1)}, Map.of("cat", at(0, 1)));
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> evaluate(new ZeroShotEvaluator.Params(List.of("cat"), null, List.of("{}")), context));
        assertTrue(error.getMessage().contains("zero-shot needs class labels")
                && error.getMessage().contains("add 'label: <field>' to data.eval"), error.getMessage());
    }

    @Test
    void aLabelWithoutAClassNameIsNamed() {
        FixedEvalContext context = context(new float[][] {at(0, 1), at(9, 1)}, Map.of("cat", at(0, 1))).labels(0, 3);
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> evaluate(new ZeroShotEvaluator.Params(List.of("cat"), null, List.of("{}")), context));
        assertTrue(error.getMessage().contains("record 1 has the label 3 but only 1 class names"), error.getMessage());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        assertEquals("classes", assertThrows(InvalidParamException.class,
                () -> new ZeroShotEvaluator.Params(null, null, List.of("{}"))).key());
        assertEquals("classes", assertThrows(InvalidParamException.class,
                () -> new ZeroShotEvaluator.Params(List.of("a"), "classes.txt", List.of("{}"))).key());
        assertEquals("classes", assertThrows(InvalidParamException.class,
                () -> new ZeroShotEvaluator.Params(List.of("cat", "dog", "cat"), null, List.of("{}"))).key());
        assertEquals("classes", assertThrows(InvalidParamException.class,
                () -> new ZeroShotEvaluator.Params(List.of("cat", " "), null, List.of("{}"))).key());
        assertEquals("prompts", assertThrows(InvalidParamException.class,
                () -> new ZeroShotEvaluator.Params(List.of("cat"), null, List.of())).key());
        InvalidParamException noSlot = assertThrows(InvalidParamException.class,
                () -> new ZeroShotEvaluator.Params(List.of("cat"), null, List.of("a {}", "a photo")));
        assertEquals("prompts", noSlot.key());
        assertTrue(noSlot.getMessage().contains("'a photo' has no {}"), noSlot.getMessage());
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> EvaluatorsPlugin.ZERO_SHOT.create(
                new ZeroShotEvaluator.Params(List.of("cat"), null, List.of("{}")),
                TestContext.builder().optTowers(List.of("image"), 2).build())).key());
    }

    @Test
    void classNamesBecomeMetricNamesMlflowAccepts() {
        assertEquals(List.of("T-shirt_top", "o_clock", "o_clock_2", "ok name"),
                ZeroShotEvaluator.metricNames(List.of("T-shirt/top", "o'clock", "o@clock", "ok name")));
    }

    private FixedEvalContext context(float[][] images, Map<String, float[]> prompts) {
        return new FixedEvalContext(manager).tower("image", images).towers("image", "text").encoder((tower, values) -> {
            assertEquals("text", tower);
            float[][] rows = new float[values.size()][];
            for (int i = 0; i < rows.length; i++) {
                encoded.add((String) values.get(i));
                rows[i] = prompts.get((String) values.get(i));
            }
            NDArray array = manager.create(rows);
            return array;
        });
    }

    private static Map<String, Double> evaluate(ZeroShotEvaluator.Params params, FixedEvalContext context) {
        return EvaluatorsPlugin.ZERO_SHOT.create(params, TestContext.builder().optTowers(List.of("image", "text"), 2).build())
                .evaluate(context).metrics();
    }

    /** A vector of the given length at the given angle in the plane. */
    private static float[] at(double degrees, double length) {
        return new float[] {(float) (length * Math.cos(Math.toRadians(degrees))),
            (float) (length * Math.sin(Math.toRadians(degrees)))};
    }
}
