package dev.modalign.plugins.evaluators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The linear probe end to end on labelled embeddings. */
class LinearProbeEvaluatorTest extends ManagerPerTest {

    private static final LinearProbeEvaluator.Params DEFAULTS =
            new LinearProbeEvaluator.Params(0.5, List.of(1e-4, 1e-3, 1e-2, 1e-1, 1.0), 0.25);

    @Test
    void perfectlySeparableClassesProbeAtOne() {
        Map<String, Double> metrics = evaluate(DEFAULTS, Clusters.of(4, 20, 16, 0.05, 1).context(manager, "image", 3));
        assertEquals(List.of("top1", "best_l2"), List.copyOf(metrics.keySet()));
        assertEquals(1.0, metrics.get("top1"));
        // Every strength is right on the validation part; the weakest is the most confident.
        assertEquals(1e-4, metrics.get("best_l2"));
    }

    @Test
    void topFiveIsReportedBeyondFiveClasses() {
        Map<String, Double> metrics = evaluate(DEFAULTS, Clusters.of(8, 10, 16, 0.6, 2).context(manager, "image", 3));
        assertEquals(List.of("top1", "top5", "best_l2"), List.copyOf(metrics.keySet()));
        assertTrue(metrics.get("top5") >= metrics.get("top1"), metrics.toString());
        assertTrue(metrics.get("top1") > 1 / 8.0, "noisy but well above chance: " + metrics);
    }

    @Test
    void oneClassProbesAtOne() {
        FixedEvalContext context = new FixedEvalContext(manager).tower("image", Clusters.of(1, 6, 4, 1.0, 2).rows())
                .labels(0, 0, 0, 0, 0, 0).towers("image");
        assertEquals(1.0, evaluate(DEFAULTS, context).get("top1"));
    }

    @Test
    void withoutLabelsTheErrorSaysWhereToAddThem() {
        FixedEvalContext context = new FixedEvalContext(manager).tower("image", new float[][] {{1, 0}, {0, 1}})
                .towers("image");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> evaluate(DEFAULTS, context));
        assertTrue(error.getMessage().contains("linear-probe needs class labels")
                && error.getMessage().contains("add 'label: <field>' to data.eval"), error.getMessage());
    }

    @Test
    void withNoClassToSplitTheErrorSaysSo() {
        FixedEvalContext context = new FixedEvalContext(manager).tower("image", new float[][] {{1, 0}, {0, 1}})
                .labels(0, 1).towers("image");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> evaluate(DEFAULTS, context));
        assertTrue(error.getMessage().contains("no class has two or more evaluation records"), error.getMessage());
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        assertEquals("test_fraction", assertThrows(InvalidParamException.class,
                () -> new LinearProbeEvaluator.Params(0, List.of(1e-3), 0.25)).key());
        assertEquals("l2", assertThrows(InvalidParamException.class,
                () -> new LinearProbeEvaluator.Params(0.5, List.of(), 0.25)).key());
        assertEquals("validation_fraction", assertThrows(InvalidParamException.class,
                () -> new LinearProbeEvaluator.Params(0.5, List.of(1e-3), 1.0)).key());
        InvalidParamException towers = assertThrows(InvalidParamException.class, () -> EvaluatorsPlugin.LINEAR_PROBE.create(
                DEFAULTS, TestContext.builder().optTowers(List.of("image", "text"), 4).build()));
        assertEquals("towers", towers.key());
        assertTrue(towers.getMessage().contains("found [image, text]"), towers.getMessage());
    }

    private static Map<String, Double> evaluate(LinearProbeEvaluator.Params params, FixedEvalContext context) {
        return EvaluatorsPlugin.LINEAR_PROBE.create(params, TestContext.builder().optTowers(List.of("image"), 16).build())
                .evaluate(context).metrics();
    }
}
