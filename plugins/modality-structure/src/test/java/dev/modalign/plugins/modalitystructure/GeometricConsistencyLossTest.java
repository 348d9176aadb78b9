package dev.modalign.plugins.modalitystructure;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** GeometricConsistencyLoss against geometric_consistency_reference.json (numpy, float64), and its checks. */
class GeometricConsistencyLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final System.Logger LOG = System.getLogger(GeometricConsistencyLossTest.class.getName());
    private static final List<String> TOWERS = List.of("image", "text");

    record ReferenceCase(String name, double intraWeight, double interWeight, double[][] a, double[][] b, double loss,
            double intra, double inter, double[][] gradA, double[][] gradB) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/geometric_consistency_reference.json", ReferenceCase.class).stream()
                .map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        Loss loss = newLoss(new GeometricConsistencyLoss.Params(reference.intraWeight(), reference.interWeight()));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            LossOutput output = computeWithGradients(loss, batch(TOWERS, a, b), step(step));
            double valueError = Math.max(relativeError(reference.loss(), output.value()),
                    Math.max(relativeError(reference.intra(), output.metrics().get("intra")),
                            relativeError(reference.inter(), output.metrics().get("inter"))));
            double gradientError = Math.max(relativeError(reference.gradA(), a.getGradient()),
                    relativeError(reference.gradB(), b.getGradient()));
            LOG.log(System.Logger.Level.INFO, String.format("geometric-consistency reference %s: max relative error"
                    + " value %.3g, gradients %.3g", reference.name(), valueError, gradientError));
            assertTrue(valueError <= REFERENCE_TOLERANCE, reference.name() + ": value or terms off by " + valueError);
            assertTrue(gradientError <= REFERENCE_TOLERANCE, reference.name() + ": gradients off by " + gradientError);
        }
    }

    @Test
    void isZeroForIdenticalTowersAndPositiveWhenTheStructuresDiffer() {
        Loss loss = newLoss(new GeometricConsistencyLoss.Params(1, 1));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.create(new float[][] {{1, 0, 0}, {0.6f, 0.8f, 0}, {0, 0, 2}});
            assertEquals(0f, loss.compute(batch(TOWERS, a, a.mul(5)), step(step)).value().getFloat(), 1e-7f);
            // Against orthonormal text rows: images 0 and 1 have cosine 0.6, their texts 0.
            NDArray b = step.eye(3);
            LossOutput output = loss.compute(batch(TOWERS, a, b), step(step));
            // S_ii - S_tt has 0.6 at (0, 1) and (1, 0): mean over 9 entries = 2 * 0.36 / 9.
            assertEquals(2 * 0.36 / 9, output.metrics().get("intra").getFloat(), 1e-6);
            // S_it = a (unit rows) : (0, 1) = 0 vs (1, 0) = 0.6, so S_it - S_ti has +-0.6 there: 2 * 0.36 / 9.
            assertEquals(2 * 0.36 / 9, output.metrics().get("inter").getFloat(), 1e-6);
            assertEquals(4 * 0.36 / 9, output.value().getFloat(), 1e-6);
        }
    }

    @Test
    void rejectsBadTowersAndWeightsByTheirKeys() {
        for (List<String> towers : List.of(List.of("image"), List.of("a", "b", "c"), List.of("a", "a"))) {
            assertEquals("towers", assertThrows(InvalidParamException.class, () -> new GeometricConsistencyLoss(
                    new GeometricConsistencyLoss.Params(1, 1), TestContext.builder().optTowers(towers, 4).build())).key());
        }
        assertEquals("intra_weight", assertThrows(InvalidParamException.class,
                () -> new GeometricConsistencyLoss.Params(-1, 1)).key());
        assertEquals("inter_weight", assertThrows(InvalidParamException.class,
                () -> new GeometricConsistencyLoss.Params(1, Double.POSITIVE_INFINITY)).key());
        assertEquals("intra_weight", assertThrows(InvalidParamException.class,
                () -> new GeometricConsistencyLoss.Params(0, 0)).key());
    }

    private static Loss newLoss(GeometricConsistencyLoss.Params params) {
        return ModalityStructurePlugin.GEOMETRIC_CONSISTENCY.create(params,
                TestContext.builder().optTowers(TOWERS, 4).build());
    }
}
