package dev.modalign.plugins.gradharm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.GradientCombiner.Combined;
import dev.modalign.api.GradientCombiner.TermGradients;
import dev.modalign.api.StepContext;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.ReferenceVectors;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * gradharm against an independent numpy implementation (src/test/python/make_reference.py), and what it claims:
 * without a conflict the gradients pass unchanged; with one, the combined gradient no longer opposes any term.
 */
class GradHarmTest extends ManagerPerTest {

    /** One reference case (snake_case keys in the JSON). */
    record Case(String name, List<String> terms, List<long[]> shapes, List<List<double[]>> gradients, boolean realign,
            String scope, double curriculumStart, double curriculumEnd, double curriculumFraction, double dropWeight,
            long step, long totalSteps, Map<String, Double> expectedCosines, List<double[]> expectedCombined,
            boolean expectedKept, Double expectedThreshold) {

        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        return ReferenceVectors.cases("/gradharm_reference.json", Case.class).stream();
    }

    private static GradHarm policy(Case c) {
        return new GradHarm(new GradHarm.Params(c.realign(), c.scope(), c.curriculumStart(), c.curriculumEnd(),
                c.curriculumFraction(), c.dropWeight()), TestContext.builder().build());
    }

    private static TermGradients input(Case c, NDManager manager) {
        List<List<NDArray>> gradients = new ArrayList<>();
        for (List<double[]> term : c.gradients()) {
            List<NDArray> arrays = new ArrayList<>();
            for (int p = 0; p < term.size(); p++) {
                double[] values = term.get(p);
                arrays.add(values == null ? null : manager.create(ReferenceVectors.floats(values), new Shape(c.shapes().get(p))));
            }
            gradients.add(arrays);
        }
        List<String> parameters = new ArrayList<>();
        for (int p = 0; p < c.shapes().size(); p++) {
            parameters.add("p" + p);
        }
        return new TermGradients(c.terms(), parameters, gradients);
    }

    private static StepContext step(NDManager manager, long step, long total) {
        return new StepContext(step, 0, total, new Random(step), manager, true);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesTheReference(Case c) {
        try (NDManager stepManager = manager.newSubManager()) {
            Combined combined = policy(c).combine(input(c, stepManager), step(stepManager, c.step(), c.totalSteps()));
            for (int p = 0; p < c.expectedCombined().size(); p++) {
                double[] expected = c.expectedCombined().get(p);
                NDArray actual = combined.gradients().get(p);
                if (expected == null) {
                    assertNull(actual, c.name() + ": parameter " + p + " is read by no term");
                    continue;
                }
                assertEquals(new Shape(c.shapes().get(p)), actual.getShape());
                assertTrue(ReferenceVectors.relativeError(expected, actual.toFloatArray()) <= 1e-5, c.name()
                        + ": the combined gradient of parameter " + p + " is off by "
                        + ReferenceVectors.relativeError(expected, actual.toFloatArray()));
            }
            c.expectedCosines().forEach((pair, cosine) -> assertEquals(cosine, combined.metrics().get("cos/" + pair), 1e-5,
                    c.name() + ": cos/" + pair));
            c.expectedCosines().forEach((pair, cosine) -> assertEquals(cosine < 0 ? 1.0 : 0.0,
                    combined.metrics().get("conflict/" + pair), c.name() + ": conflict/" + pair));
            if (c.expectedThreshold() != null) {
                assertEquals(c.expectedThreshold(), combined.metrics().get("curriculum/threshold"), 1e-12);
                assertEquals(c.expectedKept() ? 1.0 : 0.0, combined.metrics().get("curriculum/kept"), c.name());
            } else {
                assertNull(combined.metrics().get("curriculum/kept"), "no curriculum, no curriculum metrics");
            }
        }
    }

    /** Two terms over the same two parameters, the second {@code factor} times the first plus noise. */
    private TermGradients twoTerms(NDManager stepManager, double factor, long seed) {
        Random random = new Random(seed);
        List<NDArray> first = new ArrayList<>();
        List<NDArray> second = new ArrayList<>();
        for (Shape shape : List.of(new Shape(5, 3), new Shape(5))) {
            float[] a = new float[(int) shape.size()];
            float[] b = new float[a.length];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) random.nextGaussian();
                b[i] = (float) (factor * a[i] + 0.3 * random.nextGaussian());
            }
            first.add(stepManager.create(a, shape));
            second.add(stepManager.create(b, shape));
        }
        return new TermGradients(List.of("image-text", "audio-text"), List.of("text/weight", "text/bias"),
                List.of(first, second));
    }

    private static double dot(List<NDArray> a, List<NDArray> b) {
        double total = 0;
        for (int p = 0; p < a.size(); p++) {
            float[] x = a.get(p).toFloatArray();
            float[] y = b.get(p).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                total += (double) x[i] * y[i];
            }
        }
        return total;
    }

    @Test
    void withoutAConflictTheGradientsPassUnchanged() {
        try (NDManager stepManager = manager.newSubManager()) {
            TermGradients given = twoTerms(stepManager, 0.5, 1);
            Combined combined = new GradHarm(new GradHarm.Params(true, "shared", 0.0, -1.0, 0.5, 0.0),
                    TestContext.builder().build()).combine(given, step(stepManager, 0, 100));
            for (int p = 0; p < 2; p++) {
                NDArray sum = given.gradients().get(0).get(p).add(given.gradients().get(1).get(p));
                assertArrayEquals(sum.toFloatArray(), combined.gradients().get(p).toFloatArray(), 0f,
                        "agreeing terms are summed as they are, bit for bit");
            }
            assertEquals(0.0, combined.metrics().get("projected"));
            assertEquals(0.0, combined.metrics().get("conflict_share"));
            assertEquals(1.0, combined.metrics().get("curriculum/kept"), "an agreeing step passes the curriculum");
        }
    }

    @Test
    void aConflictIsProjectedAwaySoThatTheUpdateOpposesNeitherTerm() {
        try (NDManager stepManager = manager.newSubManager()) {
            // The second term is twice as strong and opposed: the plain sum would undo the first term's progress.
            TermGradients given = twoTerms(stepManager, -2.0, 2);
            List<NDArray> first = given.gradients().get(0);
            List<NDArray> second = given.gradients().get(1);
            List<NDArray> plain = List.of(first.get(0).add(second.get(0)), first.get(1).add(second.get(1)));
            assertTrue(dot(plain, first) < 0, "the fixture: the plain sum opposes the first term");
            Combined combined = new GradHarm(new GradHarm.Params(true, "shared", -1, -1, 0.5, 0),
                    TestContext.builder().build()).combine(given, step(stepManager, 0, 100));
            List<NDArray> harmonised = combined.gradients();
            double scale = Math.sqrt(dot(first, first) * dot(second, second));
            assertTrue(dot(harmonised, first) >= -1e-6 * scale, "the harmonised gradient does not oppose the first term: "
                    + dot(harmonised, first));
            assertTrue(dot(harmonised, second) >= -1e-6 * scale, "nor the second: " + dot(harmonised, second));
            assertEquals(2.0, combined.metrics().get("projected"), "each term projected off the other");
            assertEquals(1.0, combined.metrics().get("conflict/image-text~audio-text"));
            assertTrue(combined.metrics().get("cos/image-text~audio-text") < -0.9);
            assertEquals(1.0, combined.metrics().get("conflict_share"));
        }
    }

    @Test
    void theCurriculumDropsConflictingStepsEarlyAndCountsTheShareOfConflicts() {
        GradHarm policy = new GradHarm(new GradHarm.Params(true, "shared", 0.0, -1.0, 0.5, 0.0),
                TestContext.builder().build());
        try (NDManager stepManager = manager.newSubManager()) {
            Combined early = policy.combine(twoTerms(stepManager, -2.0, 3), step(stepManager, 0, 100));
            for (NDArray gradient : early.gradients()) {
                assertEquals(0f, gradient.abs().max().getFloat(), "a conflicting step at the start is dropped");
            }
            assertEquals(0.0, early.metrics().get("curriculum/kept"));
            Combined agreeing = policy.combine(twoTerms(stepManager, 0.5, 4), step(stepManager, 1, 100));
            assertEquals(1.0, agreeing.metrics().get("curriculum/kept"));
            Combined late = policy.combine(twoTerms(stepManager, -2.0, 5), step(stepManager, 60, 100));
            assertEquals(1.0, late.metrics().get("curriculum/kept"), "past half the run every step is admitted");
            assertTrue(late.gradients().get(0).abs().max().getFloat() > 0);
            assertEquals(2.0 / 3, late.metrics().get("conflict_share"), 1e-12);
            assertEquals(2.0 / 3, late.metrics().get("curriculum/kept_share"), 1e-12);
        }
    }
}
