package dev.modalign.plugins.distill;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * DistillLoss against reference values that plugins/distill/src/test/python/make_reference.py computed with
 * numpy in float64 (hand-derived gradients, checked there against finite differences).
 */
class DistillLossTest extends ManagerPerTest {

    private static final double TOLERANCE = 1e-5;

    record ReferenceCase(String name, double[][] a, double[][] b, double[][][][] teachers, boolean sameTower,
            double teacherTemperature, double lambda, double temperature, double logitScale, double loss, double clip,
            double kl, double[][] gradA, double[][] gradB, double gradLogitScale) {

        @Override
        public String toString() {
            return name;
        }
    }

    static List<ReferenceCase> referenceCases() {
        return cases("/distill_reference.json", ReferenceCase.class);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase c) {
        List<String> towers = new ArrayList<>(List.of("a", "b"));
        List<List<String>> pairs = new ArrayList<>();
        Map<String, Integer> dims = new LinkedHashMap<>(Map.of("a", c.a()[0].length, "b", c.b()[0].length));
        for (int k = 0; k < c.teachers().length; k++) {
            String x = "x" + k;
            String y = c.sameTower() ? x : "y" + k;
            pairs.add(List.of(x, y));
            towers.add(x);
            dims.put(x, c.teachers()[k][0][0].length);
            if (!c.sameTower()) {
                towers.add(y);
                dims.put(y, c.teachers()[k][1][0].length);
            }
        }
        Loss loss = LossFixtures.newLoss(DistillPlugin.DISTILL, new DistillLoss.Params(pairs, c.teacherTemperature(),
                c.lambda(), c.temperature(), 100), TestContext.builder().optTowers(List.of("a", "b"))
                        .optEmbedDims(dims).build(), manager);
        assertEquals((float) c.logitScale(), loss.parameters().get(0).getArray().getFloat(), 1e-7);
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, c.a());
            NDArray b = array(step, c.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            List<NDArray> embeddings = new ArrayList<>(List.of(a, b));
            for (double[][][] teacher : c.teachers()) {
                embeddings.add(array(step, teacher[0]));
                if (!c.sameTower()) {
                    embeddings.add(array(step, teacher[1]));
                }
            }
            LossOutput output = computeWithGradients(loss, batch(towers, embeddings, null), step(step));
            assertMatches(c.loss(), output.value(), TOLERANCE, c.name() + " loss");
            assertMatches(c.clip(), output.metrics().get("clip"), TOLERANCE, c.name() + " clip term");
            assertMatches(c.kl(), output.metrics().get("kl"), TOLERANCE, c.name() + " kl term");
            assertMatches(c.gradA(), a.getGradient(), TOLERANCE, c.name() + " d/da");
            assertMatches(c.gradB(), b.getGradient(), TOLERANCE, c.name() + " d/db");
            assertMatches(c.gradLogitScale(), loss.parameters().get(0).getArray().getGradient(), TOLERANCE,
                    c.name() + " d/dlogit_scale");
        }
    }

    @Test
    void aStudentCannotBeItsOwnTeacher() {
        InvalidParamException error = assertThrows(InvalidParamException.class, () -> DistillPlugin.DISTILL.create(
                new DistillLoss.Params(List.of(List.of("image", "teacher")), 0.07, 0.5, 0.07, 100),
                TestContext.builder().optTowers(List.of("image", "text"), 4).build()));
        assertTrue(error.getMessage().contains("'image' is a student here"), error.getMessage());
    }

    @Test
    void theDivergenceVanishesWhenTheStudentCopiesTheTeacher() {
        Loss loss = LossFixtures.newLoss(DistillPlugin.DISTILL, new DistillLoss.Params(List.of(List.of("x", "y")), 0.07,
                1.0, 0.07, 100), TestContext.builder().optTowers(List.of("a", "b"), 4).optEmbedDims(Map.of("a", 4, "b", 4,
                        "x", 4, "y", 4)).build(), manager);
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new ai.djl.ndarray.types.Shape(6, 4));
            NDArray b = step.randomNormal(new ai.djl.ndarray.types.Shape(6, 4));
            LossOutput output = loss.compute(batch(List.of("a", "b", "x", "y"), a, b, a.mul(2), b.mul(3)), step(step));
            assertEquals(0.0, output.metrics().get("kl").getFloat(), 1e-5, "same logits, same distributions");
        }
    }
}
