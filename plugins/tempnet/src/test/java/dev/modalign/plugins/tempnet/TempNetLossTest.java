package dev.modalign.plugins.tempnet;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * TempNetLoss against reference values that plugins/tempnet/src/test/python/make_reference.py computed
 * with numpy in float64 (hand-derived gradients with respect to both towers and every network weight,
 * checked there against finite differences), and its network, metrics and errors.
 */
class TempNetLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    /**
     * The network's gradients are small next to 1 (tau_max - tau_min scales them), so besides the
     * project's measure (relative to max(1, |value|)) each array whose largest magnitude is at least
     * {@link #SHAPE_CHECK_FLOOR} is also compared relative to that magnitude, which a wrong sign or a
     * missing term would fail. Below the floor float32 rounding dominates: the authors' pooling
     * temperature of 0.01 saturates the softmax, and the log-scale's gradient is then ~1e-8.
     */
    private static final double NETWORK_SHAPE_TOLERANCE = 1e-3;
    private static final double SHAPE_CHECK_FLOOR = 1e-4;
    private static final System.Logger LOG = System.getLogger(TempNetLossTest.class.getName());
    private static final List<String> TOWERS = List.of("image", "text");
    private static final List<String> WEIGHTS =
            List.of("proj_weight", "proj_bias", "prototypes", "log_scale", "out_weight", "out_bias");

    /** One case of tempnet_reference.json; arrays are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double rho,
            double tauMin,
            double tauMax,
            double[][] a,
            double[][] b,
            Map<String, Object> netA,
            Map<String, Object> netB,
            double loss,
            double[] tauA,
            double[] tauB,
            double[][] gradA,
            double[][] gradB,
            Map<String, Object> gradNetA,
            Map<String, Object> gradNetB) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/tempnet_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        int dim = reference.a()[0].length;
        int prototypes = flattenJson(reference.netA().get("out_weight")).length;
        Loss loss = newLoss(new TempNetLoss.Params(reference.rho(), reference.tauMin(), reference.tauMax(), prototypes),
                dim, 7);
        List<Parameter> parameters = loss.parameters();
        for (int k = 0; k < WEIGHTS.size(); k++) {
            parameters.get(k).getArray().set(flattenJson(reference.netA().get(WEIGHTS.get(k))));
            parameters.get(WEIGHTS.size() + k).getArray().set(flattenJson(reference.netB().get(WEIGHTS.get(k))));
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            LossOutput output = computeWithGradients(loss, batch(TOWERS, a, b), step(step));
            double valueError = relativeError(reference.loss(), output.value());
            double towerError = Math.max(relativeError(reference.gradA(), a.getGradient()),
                    relativeError(reference.gradB(), b.getGradient()));
            double networkError = 0;
            double networkShapeError = 0;
            for (int k = 0; k < WEIGHTS.size(); k++) {
                for (int net = 0; net < 2; net++) {
                    Map<String, Object> expected = net == 0 ? reference.gradNetA() : reference.gradNetB();
                    double[] want = toDouble(flattenJson(expected.get(WEIGHTS.get(k))));
                    float[] found = parameters.get(net * WEIGHTS.size() + k).getArray().getGradient().toFloatArray();
                    networkError = Math.max(networkError, relativeError(want, found));
                    networkShapeError = Math.max(networkShapeError, arrayRelativeError(want, found));
                }
            }
            double[] taus = concat(reference.tauA(), reference.tauB());
            double temperatureError = relativeError(
                    new double[] {Arrays.stream(taus).average().orElseThrow(), Arrays.stream(taus).min().orElseThrow(),
                            Arrays.stream(taus).max().orElseThrow()},
                    new float[] {output.metrics().get("temperature").getFloat(),
                            output.metrics().get("temperature_min").getFloat(),
                            output.metrics().get("temperature_max").getFloat()});
            LOG.log(System.Logger.Level.INFO, String.format("tempnet reference %s: max relative error value %.3g,"
                    + " tower gradients %.3g, network gradients %.3g (%.3g of each array's largest), temperatures %.3g",
                    reference.name(), valueError, towerError, networkError, networkShapeError, temperatureError));
            assertTrue(valueError <= REFERENCE_TOLERANCE, reference.name() + ": loss off by " + valueError
                    + ": expected " + reference.loss() + ", found " + output.value().getFloat());
            assertTrue(towerError <= REFERENCE_TOLERANCE, reference.name() + ": tower gradients off by " + towerError);
            assertTrue(networkError <= REFERENCE_TOLERANCE,
                    reference.name() + ": network gradients off by " + networkError);
            assertTrue(networkShapeError <= NETWORK_SHAPE_TOLERANCE, reference.name()
                    + ": network gradients off by " + networkShapeError + " of their arrays' largest magnitudes");
            assertTrue(temperatureError <= REFERENCE_TOLERANCE,
                    reference.name() + ": temperature metrics off by " + temperatureError);
        }
    }

    @Test
    void eachTowerHasANetworkWithTheAuthorsInitialisationSeededByTheRun() {
        Loss loss = newLoss(new TempNetLoss.Params(7.0, 0.005, 0.05, 5), 4, 7);
        List<Parameter> parameters = loss.parameters();
        assertEquals(12, parameters.size());
        assertEquals(List.of("image.proj_weight", "image.proj_bias", "image.prototypes", "image.log_scale",
                        "image.out_weight", "image.out_bias", "text.proj_weight", "text.proj_bias", "text.prototypes",
                        "text.log_scale", "text.out_weight", "text.out_bias"),
                parameters.stream().map(Parameter::getName).toList());
        assertEquals(new Shape(4, 4), parameters.get(0).getArray().getShape());
        assertEquals(new Shape(5, 4), parameters.get(2).getArray().getShape());
        assertEquals(new Shape(), parameters.get(3).getArray().getShape());
        assertEquals(new Shape(5), parameters.get(4).getArray().getShape());
        assertTrue(parameters.stream().allMatch(Parameter::requiresGradient));
        assertEquals(Math.log(0.01), parameters.get(3).getArray().getFloat(), 1e-6);
        assertArrayEquals(new float[] {1, 1, 1, 1, 1}, parameters.get(4).getArray().toFloatArray());
        assertEquals(0f, parameters.get(5).getArray().getFloat());
        for (float w : parameters.get(0).getArray().toFloatArray()) {
            assertTrue(Math.abs(w) <= 0.5, "projection weights are uniform on +-1/sqrt(4), found " + w);
        }

        float[] first = parameters.get(2).getArray().toFloatArray();
        float[] again = newLoss(new TempNetLoss.Params(7.0, 0.005, 0.05, 5), 4, 7).parameters().get(2).getArray()
                .toFloatArray();
        float[] otherSeed = newLoss(new TempNetLoss.Params(7.0, 0.005, 0.05, 5), 4, 8).parameters().get(2).getArray()
                .toFloatArray();
        assertArrayEquals(first, again, "the same run seed gives the same initial prototypes");
        assertFalse(Arrays.equals(first, otherSeed), "another run seed gives other prototypes");
        assertFalse(Arrays.equals(first, parameters.get(8).getArray().toFloatArray()),
                "the two towers' networks start differently");
    }

    @Test
    void temperaturesStayWithinTheirRangeAndTheMetricsAreDetached() {
        Loss loss = newLoss(new TempNetLoss.Params(7.0, 0.02, 0.3, 8), 6, 3);
        // Wide weights so that the temperatures spread over the range.
        Random random = new Random(5);
        for (Parameter parameter : loss.parameters()) {
            float[] values = parameter.getArray().toFloatArray();
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (4 * random.nextGaussian());
            }
            parameter.getArray().set(values);
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(32, 6)).mul(100);
            NDArray b = step.randomNormal(new Shape(32, 6));
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch(TOWERS, a, b), step(step));
                for (Map.Entry<String, NDArray> metric : output.metrics().entrySet()) {
                    assertThrows(EngineException.class, () -> collector.backward(metric.getValue()),
                            "the metric " + metric.getKey() + " must be detached from the graph");
                }
            }
            assertEquals(Set.of("temperature", "temperature_min", "temperature_max"), output.metrics().keySet());
            float min = output.metrics().get("temperature_min").getFloat();
            float max = output.metrics().get("temperature_max").getFloat();
            float mean = output.metrics().get("temperature").getFloat();
            assertTrue(0.02f <= min && min <= mean && mean <= max && max <= 0.3f,
                    "temperatures in [0.02, 0.3]: min " + min + ", mean " + mean + ", max " + max);
            assertTrue(max - min > 0.01, "the temperatures are personal, not one value: " + min + " to " + max);
        }
    }

    /**
     * dL/dtau_i = (rho - KL(pi_i, uniform)) / B, and the KL of a distribution over B - 1 negatives is at
     * most log(B - 1): with rho above it every temperature is pushed down, with rho 0 up. The output bias
     * raises every temperature, so its gradient has the sign of the push.
     */
    @Test
    void rhoAboveLogOfTheNegativesPushesEveryTemperatureDownAndZeroPushesThemUp() {
        int batchSize = 8;
        double bindingLimit = Math.log(batchSize - 1);
        assertTrue(outBiasGradients(bindingLimit + 0.01, batchSize) > 0, "rho > log(B - 1) lowers the temperatures");
        assertTrue(outBiasGradients(0, batchSize) < 0, "rho = 0 raises the temperatures");
    }

    private double outBiasGradients(double rho, int batchSize) {
        Loss loss = newLoss(new TempNetLoss.Params(rho, 0.01, 0.5, 4), 5, 11);
        try (NDManager step = manager.newSubManager()) {
            Engine.getInstance().setRandomSeed(21);
            NDArray a = step.randomNormal(new Shape(batchSize, 5));
            NDArray b = a.add(step.randomNormal(new Shape(batchSize, 5)).mul(0.5));
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                collector.backward(loss.compute(batch(TOWERS, a, b), step(step)).value());
            }
            return loss.parameters().get(5).getArray().getGradient().getFloat()
                    + loss.parameters().get(11).getArray().getGradient().getFloat();
        }
    }

    @Test
    void aBatchOfOneHasNoNegativesAndCostsNothing() {
        Loss loss = newLoss(new TempNetLoss.Params(7.0, 0.005, 0.05, 3), 4, 7);
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.create(new float[][] {{1, 2, 3, 4}});
            NDArray b = step.create(new float[][] {{-1, 0, 2, 1}});
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            LossOutput output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                output = loss.compute(batch(TOWERS, a, b), step(step));
                collector.backward(output.value());
            }
            assertEquals(0f, output.value().getFloat());
            assertArrayEquals(new float[4], a.getGradient().toFloatArray());
            for (Parameter parameter : loss.parameters()) {
                assertEquals(0f, parameter.getArray().getGradient().abs().sum().getFloat(),
                        parameter.getName() + " has a zero gradient");
            }
        }
    }

    @Test
    void rejectsBadTowersAndParametersByTheirKeys() {
        for (List<String> towers : List.of(List.of("image"), List.of("image", "text", "audio"), List.of("a", "a"))) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> new TempNetLoss(new TempNetLoss.Params(7, 0.005, 0.05, 4), context(towers, 4, 7)));
            assertEquals("towers", error.key());
        }
        // Towers image (4 dimensions) and text (8).
        ComponentContext mixed = TestContext.builder().optTowers(TOWERS, 4).optEmbedDims(Map.of("text", 8)).build();
        assertTrue(assertThrows(InvalidParamException.class,
                () -> new TempNetLoss(new TempNetLoss.Params(7, 0.005, 0.05, 4), mixed)).getMessage()
                .contains("same embed_dim"));
        assertEquals("rho", assertThrows(InvalidParamException.class,
                () -> new TempNetLoss.Params(-1, 0.005, 0.05, 4)).key());
        assertEquals("rho", assertThrows(InvalidParamException.class,
                () -> new TempNetLoss.Params(Double.NaN, 0.005, 0.05, 4)).key());
        assertEquals("tau_min", assertThrows(InvalidParamException.class,
                () -> new TempNetLoss.Params(7, 0, 0.05, 4)).key());
        assertEquals("tau_max", assertThrows(InvalidParamException.class,
                () -> new TempNetLoss.Params(7, 0.05, 0.05, 4)).key());
        assertEquals("prototypes", assertThrows(InvalidParamException.class,
                () -> new TempNetLoss.Params(7, 0.005, 0.05, 0)).key());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("tempnet")).findFirst().orElseThrow();
        assertInstanceOf(TempNetPlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals(List.of("tempnet"), plugin.losses().stream().map(f -> f.name()).toList());
    }

    private Loss newLoss(TempNetLoss.Params params, int dim, long seed) {
        return LossFixtures.newLoss(TempNetPlugin.TEMPNET, params, context(TOWERS, dim, seed), manager);
    }

    private static ComponentContext context(List<String> towers, int dim, long seed) {
        return TestContext.builder().optSeed(seed).optTowers(towers, dim).build();
    }


    /**
     * The largest |expected - actual| over the largest |expected| of the array; 0 for an array whose
     * largest magnitude is below {@link #SHAPE_CHECK_FLOOR}.
     */
    private static double arrayRelativeError(double[] expected, float[] actual) {
        double largest = Arrays.stream(expected).map(Math::abs).max().orElse(0);
        if (largest < SHAPE_CHECK_FLOOR) {
            return 0;
        }
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        return worst / largest;
    }

    /** A JSON number, vector or matrix (as Gson reads it into Object) flattened to float32 values. */
    private static float[] flattenJson(Object json) {
        if (json instanceof Number number) {
            return new float[] {number.floatValue()};
        }
        List<?> items = (List<?>) json;
        float[] out = new float[0];
        for (Object item : items) {
            float[] part = flattenJson(item);
            float[] joined = Arrays.copyOf(out, out.length + part.length);
            System.arraycopy(part, 0, joined, out.length, part.length);
            out = joined;
        }
        return out;
    }

    private static double[] toDouble(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    private static double[] concat(double[] first, double[] second) {
        double[] joined = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, joined, first.length, second.length);
        return joined;
    }
}
