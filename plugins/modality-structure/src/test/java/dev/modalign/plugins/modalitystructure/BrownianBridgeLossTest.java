package dev.modalign.plugins.modalitystructure;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.LossOutput;
import dev.modalign.api.StepContext;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** BrownianBridgeLoss against brownian_bridge_reference.json (numpy, float64), its bridge times and checks. */
class BrownianBridgeLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final System.Logger LOG = System.getLogger(BrownianBridgeLossTest.class.getName());
    private static final List<String> TOWERS = List.of("image", "text", "image_view");

    record ReferenceCase(String name, double[] t, double[][] x, double[][] y, double[][] m, double loss,
            double distance, double[][] gradX, double[][] gradY, double[][] gradM) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/brownian_bridge_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        BrownianBridgeLoss loss = newLoss(0.05);
        try (NDManager step = manager.newSubManager()) {
            NDArray x = array(step, reference.x());
            NDArray y = array(step, reference.y());
            NDArray m = array(step, reference.m());
            for (NDArray array : List.of(x, y, m)) {
                array.setRequiresGradient(true);
            }
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch(TOWERS, x, y, m), step, reference.t());
                collector.backward(output.value());
            }
            double valueError = Math.max(relativeError(reference.loss(), output.value()),
                    relativeError(reference.distance(), output.metrics().get("distance")));
            double gradientError = Math.max(relativeError(reference.gradX(), x.getGradient()),
                    Math.max(relativeError(reference.gradY(), y.getGradient()),
                            relativeError(reference.gradM(), m.getGradient())));
            LOG.log(System.Logger.Level.INFO, String.format("brownian-bridge reference %s: max relative error value"
                    + " %.3g, gradients %.3g", reference.name(), valueError, gradientError));
            assertTrue(valueError <= REFERENCE_TOLERANCE, reference.name() + ": value off by " + valueError);
            assertTrue(gradientError <= REFERENCE_TOLERANCE, reference.name() + ": gradients off by " + gradientError);
        }
    }

    @Test
    void bridgeTimesComeFromTheStepsGeneratorWithinTheMargin() {
        BrownianBridgeLoss loss = newLoss(0.1);
        double[] times = loss.times(new Random(4), 10_000);
        double low = 1;
        double high = 0;
        double sum = 0;
        for (double t : times) {
            low = Math.min(low, t);
            high = Math.max(high, t);
            sum += t;
        }
        assertTrue(low >= 0.1 && high <= 0.9, "t in [0.1, 0.9], found [" + low + ", " + high + "]");
        assertTrue(low < 0.11 && high > 0.89, "t covers the range, found [" + low + ", " + high + "]");
        assertEquals(0.5, sum / times.length, 0.01, "U(0.1, 0.9) has mean 0.5");
        assertArrayEquals(times, loss.times(new Random(4), 10_000), "the same seed gives the same times");

        try (NDManager step = manager.newSubManager()) {
            Engine.getInstance().setRandomSeed(3);
            EncodedBatch batch = batch(TOWERS, step.randomNormal(new Shape(5, 4)), step.randomNormal(new Shape(5, 4)),
                    step.randomNormal(new Shape(5, 4)));
            float drawn = loss.compute(batch, new StepContext(0, 0, 1, new Random(8), step, true)).value().getFloat();
            float given = loss.compute(batch, step, loss.times(new Random(8), 5)).value().getFloat();
            assertEquals(given, drawn, 0f, "compute draws one t per record, in order, from the step's generator");
        }
    }

    @Test
    void anIntermediatePointOnItsBridgeScoresBetterThanOneOffIt() {
        BrownianBridgeLoss loss = newLoss(0.05);
        try (NDManager step = manager.newSubManager()) {
            NDArray x = step.create(new float[][] {{1, 0, 0}, {0, 1, 0}});
            NDArray y = step.create(new float[][] {{0, 1, 0}, {0, 0, 1}});
            double[] t = {0.5, 0.5};
            // On the bridge at t = 0.5 (up to normalisation, which keeps the direction) against swapped points.
            NDArray onBridge = step.create(new float[][] {{1, 1, 0}, {0, 1, 1}});
            NDArray swapped = onBridge.flip(0);
            LossOutput good = loss.compute(batch(TOWERS, x, y, onBridge), step, t);
            LossOutput bad = loss.compute(batch(TOWERS, x, y, swapped), step, t);
            assertTrue(good.value().getFloat() < bad.value().getFloat(),
                    good.value().getFloat() + " should be below " + bad.value().getFloat());
            // The mean of bridge 0 is (0.5, 0.5, 0), at distance 1 - sqrt(0.5) from its unit point.
            assertEquals(1 - Math.sqrt(0.5), good.metrics().get("distance").getFloat(), 1e-6);
        }
    }

    @Test
    void rejectsAnythingButThreeTowersAndABadMargin() {
        for (List<String> towers : List.of(List.of("image", "text"), List.of("a", "b", "c", "d"), List.of("a", "b", "a"))) {
            InvalidParamException error = assertThrows(InvalidParamException.class, () -> new BrownianBridgeLoss(
                    new BrownianBridgeLoss.Params(0.05), TestContext.builder().optTowers(towers, 4).build()));
            assertEquals("towers", error.key());
        }
        for (double margin : new double[] {0, 0.5, -0.1, Double.NaN}) {
            assertEquals("t_margin", assertThrows(InvalidParamException.class,
                    () -> new BrownianBridgeLoss.Params(margin)).key());
        }
    }

    private static BrownianBridgeLoss newLoss(double margin) {
        return (BrownianBridgeLoss) ModalityStructurePlugin.BROWNIAN_BRIDGE.create(
                new BrownianBridgeLoss.Params(margin), TestContext.builder().optTowers(TOWERS, 4).build());
    }
}
