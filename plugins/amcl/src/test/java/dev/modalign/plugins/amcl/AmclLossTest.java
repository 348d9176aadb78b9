package dev.modalign.plugins.amcl;

import static dev.modalign.testkit.LossFixtures.batch;
import static dev.modalign.testkit.LossFixtures.computeWithGradients;
import static dev.modalign.testkit.LossFixtures.step;
import static dev.modalign.testkit.ReferenceVectors.array;
import static dev.modalign.testkit.ReferenceVectors.assertMatches;
import static dev.modalign.testkit.ReferenceVectors.cases;
import static dev.modalign.testkit.ReferenceVectors.floats;
import static dev.modalign.testkit.ReferenceVectors.flatten;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import dev.modalign.testkit.Tensors;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * AmclLoss against reference values that plugins/amcl/src/test/python/make_reference.py computed with numpy
 * in float64 (hand-derived gradients, checked there against finite differences), for the towers, every
 * head's weight and every head's temperature; and its heads' initialisation, parameters and validation.
 */
class AmclLossTest extends ManagerPerTest {

    private static final double REFERENCE_TOLERANCE = 1e-5;
    private static final List<String> TOWERS = List.of("image", "text");

    /** One case of amcl_reference.json; arrays are float32 values written as doubles. */
    record ReferenceCase(
            String name,
            double beta,
            double maxLogitScale,
            double[] logitScales,
            double[][] a,
            double[][] b,
            double[][][] weights,
            double loss,
            double[] headLosses,
            double[][] gradA,
            double[][] gradB,
            double[][][] gradWeights,
            double[] gradLogitScales) {}

    static Stream<Named<ReferenceCase>> referenceCases() {
        return cases("/amcl_reference.json", ReferenceCase.class).stream().map(c -> Named.of(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("referenceCases")
    void matchesTheReferenceLossAndGradients(ReferenceCase reference) {
        int dim = reference.a()[0].length;
        int headDim = reference.weights()[0][0].length;
        int heads = reference.weights().length;
        // The initial temperature only sets the parameters' start, which the case overwrites.
        Loss loss = newLoss(new AmclLoss.Params(heads, headDim, 1.0, reference.maxLogitScale(), reference.beta()), dim);
        List<Parameter> parameters = loss.parameters();
        for (int h = 0; h < heads; h++) {
            parameters.get(2 * h).getArray().set(floats(flatten(reference.weights()[h])));
            parameters.get(2 * h + 1).getArray().set(new float[] {(float) reference.logitScales()[h]});
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray a = array(step, reference.a());
            NDArray b = array(step, reference.b());
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            LossOutput output = computeWithGradients(loss, batch(TOWERS, a, b), step(step));
            assertMatches(reference.loss(), output.value(), REFERENCE_TOLERANCE, reference.name() + " loss");
            assertMatches(reference.gradA(), a.getGradient(), REFERENCE_TOLERANCE, reference.name() + " gradient, a");
            assertMatches(reference.gradB(), b.getGradient(), REFERENCE_TOLERANCE, reference.name() + " gradient, b");
            for (int h = 0; h < heads; h++) {
                assertMatches(reference.gradWeights()[h], parameters.get(2 * h).getArray().getGradient(),
                        REFERENCE_TOLERANCE, reference.name() + " gradient with respect to head " + h + "'s weight");
                assertMatches(reference.gradLogitScales()[h], parameters.get(2 * h + 1).getArray().getGradient(),
                        REFERENCE_TOLERANCE, reference.name() + " gradient with respect to head " + h + "'s logit scale");
                assertMatches(reference.headLosses()[h], output.metrics().get("loss/head" + h), REFERENCE_TOLERANCE,
                        reference.name() + " head " + h + "'s InfoNCE");
            }
        }
    }

    @Test
    void oneIdentityHeadWithoutRegulariserIsClip() {
        // Matched orthonormal pairs through an identity head: each row is logsumexp over one logit of 1/0.07 and
        // five of 0, as for CLIP.
        Loss loss = newLoss(new AmclLoss.Params(1, 6, 0.07, 100, 0), 6);
        loss.parameters().get(0).getArray().set(identity(6));
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.eye(6);
            float value = loss.compute(batch(TOWERS, a, a.mul(3)), step(step))
                    .value().getFloat();
            assertEquals(Math.log(1 + 5 * Math.exp(-1 / 0.07)), value, 1e-6);
        }
    }

    @Test
    void headsAreLossParametersNamedByHeadStartingOrthonormalAndDifferentFromEachOther() {
        Loss loss = newLoss(new AmclLoss.Params(3, 4, 0.07, 100, 0.01), 8);
        List<Parameter> parameters = loss.parameters();
        assertEquals(List.of("head0.weight", "head0.logit_scale", "head1.weight", "head1.logit_scale", "head2.weight",
                "head2.logit_scale"), parameters.stream().map(Parameter::getName).toList());
        for (int h = 0; h < 3; h++) {
            NDArray weight = parameters.get(2 * h).getArray();
            assertEquals(new Shape(8, 4), weight.getShape());
            // Orthonormal columns: W^T W = I.
            Tensors.assertClose(identity(4), weight.transpose().matMul(weight).toFloatArray(), 1e-5,
                    "head " + h + "'s columns are orthonormal");
            assertEquals(Math.log(1 / 0.07), parameters.get(2 * h + 1).getArray().getFloat(), 1e-6);
        }
        assertFalse(parameters.get(0).getArray().contentEquals(parameters.get(2).getArray()),
                "two heads started from the same projection");
        // The same seed starts the same heads, in another loss.
        assertArrayEquals(parameters.get(0).getArray().toFloatArray(),
                newLoss(new AmclLoss.Params(3, 4, 0.07, 100, 0.01), 8).parameters().get(0).getArray().toFloatArray());
    }

    @Test
    void byDefaultEachHeadSeesHalfTheSpaceAndTheHeadsDisagreeWhereFullWidthHeadsCannot() {
        Loss halfWidth = newLoss(new AmclLoss.Params(2, null, 0.07, 100, 0.01), 8);
        assertEquals(new Shape(8, 4), halfWidth.parameters().get(0).getArray().getShape());
        Loss fullWidth = newLoss(new AmclLoss.Params(2, 8, 0.07, 100, 0.01), 8);
        try (NDManager step = manager.newSubManager()) {
            NDArray a = step.randomNormal(new Shape(6, 8));
            NDArray b = a.add(step.randomNormal(new Shape(6, 8)));
            Map<String, NDArray> half = halfWidth.compute(batch(TOWERS, a, b), step(step)).metrics();
            Map<String, NDArray> full = fullWidth.compute(batch(TOWERS, a, b), step(step)).metrics();
            // Orthonormal 8 x 8 heads are rotations: both keep every cosine, so their losses are equal.
            assertEquals(full.get("loss/head0").getFloat(), full.get("loss/head1").getFloat(), 1e-5);
            assertTrue(Math.abs(half.get("loss/head0").getFloat() - half.get("loss/head1").getFloat()) > 1e-3,
                    "two heads onto different random subspaces computed the same loss");
        }
    }

    @Test
    void headsWiderThanTheTowersStartWithOrthonormalRowsThatKeepCosines() {
        Loss loss = newLoss(new AmclLoss.Params(1, 12, 0.07, 100, 0.01), 5);
        NDArray weight = loss.parameters().get(0).getArray();
        Tensors.assertClose(identity(5), weight.matMul(weight.transpose()).toFloatArray(), 1e-5, "W W^T = I");
    }

    @Test
    void logitScalesAreClippedAfterAStep() {
        Loss loss = newLoss(new AmclLoss.Params(2, null, 0.07, 100, 0.01), 4);
        loss.parameters().get(1).getArray().set(new float[] {(float) Math.log(1000)});
        loss.parameters().get(3).getArray().set(new float[] {(float) Math.log(10)});
        try (NDManager step = manager.newSubManager()) {
            NDArray ones = step.ones(new Shape(1, 4));
            loss.afterStep(batch(TOWERS, ones, ones), step(step));
        }
        assertEquals(Math.log(100), loss.parameters().get(1).getArray().getFloat(), 1e-6);
        assertEquals(Math.log(10), loss.parameters().get(3).getArray().getFloat(), 1e-6);
    }

    @Test
    void rejectsBadParametersAndTowersByTheirKeys() {
        assertEquals("heads", assertThrows(InvalidParamException.class,
                () -> new AmclLoss.Params(0, null, 0.07, 100, 0.01)).key());
        assertEquals("head_dim", assertThrows(InvalidParamException.class,
                () -> new AmclLoss.Params(3, 0, 0.07, 100, 0.01)).key());
        for (double temperature : new double[] {0, -1, Double.NaN, 0.001}) {
            assertEquals("temperature", assertThrows(InvalidParamException.class,
                    () -> new AmclLoss.Params(3, null, temperature, 100, 0.01)).key());
        }
        assertEquals("max_logit_scale", assertThrows(InvalidParamException.class,
                () -> new AmclLoss.Params(3, null, 0.07, -1, 0.01)).key());
        for (double beta : new double[] {-0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertEquals("beta", assertThrows(InvalidParamException.class,
                    () -> new AmclLoss.Params(3, null, 0.07, 100, beta)).key());
        }
        AmclLoss.Params params = new AmclLoss.Params(3, null, 0.07, 100, 0.01);
        assertEquals("towers", assertThrows(InvalidParamException.class,
                () -> new AmclLoss(params, TestContext.builder().optTowers(List.of("a", "a"), 4).build())).key());
        ComponentContext mixed = TestContext.builder().optTowers(TOWERS)
                .optEmbedDims(Map.of("image", 128, "text", 64)).build();
        InvalidParamException dims = assertThrows(InvalidParamException.class, () -> new AmclLoss(params, mixed));
        assertTrue(dims.getMessage().contains("embed_dim"), dims.getMessage());
    }

    @Test
    void pluginIsFoundByServiceLoaderWithThePapersTitle() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin amcl = plugins.stream().filter(p -> p.name().equals("amcl")).findFirst().orElseThrow();
        assertInstanceOf(AmclPlugin.class, amcl);
        assertEquals(ModalignApi.VERSION, amcl.apiVersion());
        assertTrue(amcl.losses().stream().anyMatch(f -> f.name().equals("amcl")
                && f.description().contains("Adaptive Multi-head Contrastive Learning")));
    }

    private static float[] identity(int size) {
        float[] values = new float[size * size];
        for (int i = 0; i < size; i++) {
            values[i * size + i] = 1;
        }
        return values;
    }

    private Loss newLoss(AmclLoss.Params params, int dim) {
        return LossFixtures.newLoss(AmclPlugin.AMCL, params, TestContext.builder().optTowers(TOWERS, dim).build(),
                manager);
    }
}
