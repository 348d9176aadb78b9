package dev.modalign.plugins.threetowers;

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
import ai.djl.nn.Parameter;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.ReferenceVectors;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * ThreeTowersLoss against reference values that plugins/three-towers/src/test/python/make_reference.py
 * computed with numpy in float64 (hand-derived gradients, checked there against finite differences).
 */
class ThreeTowersLossTest extends ManagerPerTest {

    private static final double TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("f", "g", "h");

    record ReferenceCase(String name, double[][] x, double[][] y, double[][] z, double[][] wF, double[][] wG,
            double[][] wH, double tFg, double tFh, double tGh, double loss, double[][] gradX, double[][] gradY,
            double[][] gradWF, double[][] gradWG, double[][] gradWH, double gradTFg, double gradTFh, double gradTGh) {

        @Override
        public String toString() {
            return name;
        }
    }

    static List<ReferenceCase> referenceCases() {
        return cases("/three_towers_reference.json", ReferenceCase.class);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase c) {
        Loss loss = LossFixtures.newLoss(ThreeTowersPlugin.THREE_TOWERS, new ThreeTowersLoss.Params(0.07,
                c.wF()[0].length, 1e6), TestContext.builder().optTowers(TOWERS).optEmbedDims(Map.of("f", c.x()[0].length,
                        "g", c.y()[0].length, "h", c.z()[0].length)).build(), manager);
        List<Parameter> parameters = loss.parameters();
        parameters.get(0).getArray().set(ReferenceVectors.floats(ReferenceVectors.flatten(c.wF())));
        parameters.get(1).getArray().set(ReferenceVectors.floats(ReferenceVectors.flatten(c.wG())));
        parameters.get(2).getArray().set(ReferenceVectors.floats(ReferenceVectors.flatten(c.wH())));
        parameters.get(3).getArray().set(new float[] {(float) c.tFg()});
        parameters.get(4).getArray().set(new float[] {(float) c.tFh()});
        parameters.get(5).getArray().set(new float[] {(float) c.tGh()});
        try (NDManager step = manager.newSubManager()) {
            NDArray x = array(step, c.x());
            NDArray y = array(step, c.y());
            NDArray z = array(step, c.z());
            x.setRequiresGradient(true);
            y.setRequiresGradient(true);
            z.setRequiresGradient(true);
            LossOutput output = computeWithGradients(loss, batch(TOWERS, x, y, z), step(step));
            assertMatches(c.loss(), output.value(), TOLERANCE, c.name() + " loss");
            assertMatches(c.gradX(), x.getGradient(), TOLERANCE, c.name() + " d/dx");
            assertMatches(c.gradY(), y.getGradient(), TOLERANCE, c.name() + " d/dy");
            assertEquals(0.0, z.getGradient().abs().sum().getFloat(), "the third tower is a fixed target");
            assertMatches(c.gradWF(), parameters.get(0).getArray().getGradient(), TOLERANCE, c.name() + " d/dW_f");
            assertMatches(c.gradWG(), parameters.get(1).getArray().getGradient(), TOLERANCE, c.name() + " d/dW_g");
            assertMatches(c.gradWH(), parameters.get(2).getArray().getGradient(), TOLERANCE, c.name() + " d/dW_h");
            assertMatches(c.gradTFg(), parameters.get(3).getArray().getGradient(), TOLERANCE, c.name() + " d/dt_fg");
            assertMatches(c.gradTFh(), parameters.get(4).getArray().getGradient(), TOLERANCE, c.name() + " d/dt_fh");
            assertMatches(c.gradTGh(), parameters.get(5).getArray().getGradient(), TOLERANCE, c.name() + " d/dt_gh");
        }
    }

    @Test
    void headsMapEachTowerIntoTheThirdTowersSpace() {
        Loss loss = LossFixtures.newLoss(ThreeTowersPlugin.THREE_TOWERS, new ThreeTowersLoss.Params(0.07, 16, 100),
                TestContext.builder().optTowers(TOWERS).optEmbedDims(Map.of("f", 8, "g", 8, "h", 384)).build(), manager);
        assertEquals(List.of("head_f", "head_g", "head_h", "logit_scale_fg", "logit_scale_fh", "logit_scale_gh"),
                loss.parameters().stream().map(Parameter::getName).toList());
        assertEquals(new ai.djl.ndarray.types.Shape(384, 16), loss.parameters().get(2).getArray().getShape());
        assertEquals(Math.log(1 / 0.07), loss.parameters().get(3).getArray().getFloat(), 1e-6);
    }

    @Test
    void itNeedsThreeDifferentTowers() {
        InvalidParamException error = assertThrows(InvalidParamException.class, () -> ThreeTowersPlugin.THREE_TOWERS.create(
                new ThreeTowersLoss.Params(0.07, 0, 100), TestContext.builder().optTowers(List.of("f", "g"), 4).build()));
        assertTrue(error.getMessage().contains("three different towers"), error.getMessage());
    }
}
