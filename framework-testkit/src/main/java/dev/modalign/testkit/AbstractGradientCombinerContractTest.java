package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.GradientCombiner;
import dev.modalign.api.GradientCombiner.Combined;
import dev.modalign.api.GradientCombiner.TermGradients;
import dev.modalign.api.StepContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link GradientCombiner} (a gradient policy under {@code train.gradient}) must do: one gradient
 * per parameter, of its shape and finite, also for large and for opposed gradients; finite metrics; the same
 * inputs at the same step give the same output; a parameter no term reads gets no gradient (null or zero);
 * and nothing outlives the step's manager.
 *
 * <p>The fixture: three loss terms over the parameters of three towers a, b, c (a matrix and a bias each)
 * and one loss parameter, as a trainer hands them: term "ab" reads a and b, term "bc" b and c, term "ca" c
 * and a and the loss parameter; and one parameter of tower d that no term reads.
 *
 * @param <P> the combiner's parameter record
 */
public abstract class AbstractGradientCombinerContractTest<P extends Record> extends PluginContract {

    protected abstract ComponentFactory<P, GradientCombiner> factory();

    protected abstract P params();

    protected NDManager manager;

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return factory();
    }

    protected GradientCombiner newCombiner() {
        return factory().create(params(), TestContext.builder().optTowers(List.of("a", "b", "c"), 4).build());
    }

    private static final List<String> TERMS = List.of("ab", "bc", "ca");
    private static final List<String> PARAMETERS = List.of("a/weight", "a/bias", "b/weight", "b/bias", "c/weight",
            "c/bias", "loss:ca/scale", "d/weight");
    private static final List<Shape> SHAPES = List.of(new Shape(4, 3), new Shape(4), new Shape(4, 3), new Shape(4),
            new Shape(4, 3), new Shape(4), new Shape(), new Shape(2, 2));

    private static boolean reads(int term, String parameter) {
        String owner = parameter.substring(0, parameter.indexOf('/'));
        return switch (term) {
            case 0 -> owner.equals("a") || owner.equals("b");
            case 1 -> owner.equals("b") || owner.equals("c");
            default -> owner.equals("c") || owner.equals("a") || owner.equals("loss:ca");
        };
    }

    /** Seeded gradients; with {@code opposed}, term bc's gradients are minus term ab's where both read. */
    protected TermGradients gradients(NDManager stepManager, long seed, float scale, boolean opposed) {
        Random random = new Random(seed);
        List<List<NDArray>> gradients = new ArrayList<>();
        for (int k = 0; k < TERMS.size(); k++) {
            List<NDArray> term = new ArrayList<>();
            for (int p = 0; p < PARAMETERS.size(); p++) {
                if (!reads(k, PARAMETERS.get(p))) {
                    term.add(null);
                    continue;
                }
                float[] values = new float[(int) Math.max(1, SHAPES.get(p).size())];
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) random.nextGaussian() * scale;
                }
                if (opposed && k == 1 && gradients.get(0).get(p) != null) {
                    float[] first = gradients.get(0).get(p).toFloatArray();
                    for (int i = 0; i < values.length; i++) {
                        values[i] = -first[i];
                    }
                }
                term.add(stepManager.create(values, SHAPES.get(p)));
            }
            gradients.add(term);
        }
        return new TermGradients(TERMS, PARAMETERS, gradients);
    }

    private static StepContext step(NDManager stepManager, long step) {
        return new StepContext(step, 0, 100, new Random(step * 31 + 5), stepManager, true);
    }

    private static void assertWellFormed(Combined combined, String what) {
        assertEquals(PARAMETERS.size(), combined.gradients().size(), what + ": one gradient per parameter");
        for (int p = 0; p < PARAMETERS.size(); p++) {
            NDArray gradient = combined.gradients().get(p);
            if (gradient == null) {
                continue;
            }
            assertEquals(SHAPES.get(p), gradient.getShape(), what + ": the gradient of " + PARAMETERS.get(p));
            for (float value : gradient.toFloatArray()) {
                assertTrue(Float.isFinite(value), what + ": the gradient of " + PARAMETERS.get(p) + " is not finite");
            }
        }
        NDArray unread = combined.gradients().get(PARAMETERS.indexOf("d/weight"));
        assertTrue(unread == null || unread.abs().max().getFloat() == 0f, what + ": a parameter no term reads got a gradient");
        combined.metrics().forEach((name, value) -> assertTrue(Double.isFinite(value), what + ": metric " + name + " = "
                + value));
    }

    @Test
    void oneFiniteGradientPerParameterOfItsShape() {
        GradientCombiner combiner = newCombiner();
        for (long step = 0; step < 3; step++) {
            try (NDManager stepManager = manager.newSubManager()) {
                assertWellFormed(combiner.combine(gradients(stepManager, step, 1f, false), step(stepManager, step)),
                        "step " + step);
            }
        }
    }

    @Test
    void opposedAndLargeGradientsStayFinite() {
        GradientCombiner combiner = newCombiner();
        try (NDManager stepManager = manager.newSubManager()) {
            assertWellFormed(combiner.combine(gradients(stepManager, 1, 1f, true), step(stepManager, 0)), "opposed");
        }
        try (NDManager stepManager = manager.newSubManager()) {
            assertWellFormed(combiner.combine(gradients(stepManager, 2, 1e15f, true), step(stepManager, 1)), "large");
        }
        try (NDManager stepManager = manager.newSubManager()) {
            assertWellFormed(combiner.combine(gradients(stepManager, 3, 0f, false), step(stepManager, 2)), "zero");
        }
    }

    @Test
    void sameInputsSameOutput() {
        GradientCombiner first = newCombiner();
        GradientCombiner second = newCombiner();
        for (long step = 0; step < 3; step++) {
            try (NDManager stepManager = manager.newSubManager()) {
                Combined one = first.combine(gradients(stepManager, step, 1f, step == 1), step(stepManager, step));
                Combined two = second.combine(gradients(stepManager, step, 1f, step == 1), step(stepManager, step));
                for (int p = 0; p < PARAMETERS.size(); p++) {
                    NDArray a = one.gradients().get(p);
                    NDArray b = two.gradients().get(p);
                    assertEquals(a == null, b == null, PARAMETERS.get(p));
                    if (a != null) {
                        assertArrayEquals(a.toFloatArray(), b.toFloatArray(), PARAMETERS.get(p) + " at step " + step);
                    }
                }
                assertEquals(one.metrics(), two.metrics(), "metrics at step " + step);
            }
        }
    }

    @Test
    void leavesNoArrayBeyondTheStep() {
        GradientCombiner combiner = newCombiner();
        int before = manager.getManagedArrays().size();
        for (long step = 0; step < 3; step++) {
            try (NDManager stepManager = manager.newSubManager()) {
                Map<String, Double> metrics = combiner.combine(gradients(stepManager, step, 1f, step == 2),
                        step(stepManager, step)).metrics();
                assertTrue(metrics != null);
            }
        }
        assertEquals(before, manager.getManagedArrays().size(), "arrays outlived the step's manager");
    }
}
