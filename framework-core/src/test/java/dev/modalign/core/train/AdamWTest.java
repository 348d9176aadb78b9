package dev.modalign.core.train;

import dev.modalign.api.Scalars;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import dev.modalign.core.config.ExperimentSpec.OptimizerSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * AdamW and the schedule against a direct double-precision transcription of Loshchilov and
 * Hutter's Algorithm 2 (decay on the matrix, none on the bias).
 */
class AdamWTest {

    @Test
    void threeStepsMatchTheAlgorithm() {
        double lr = 0.1;
        double decay = 0.5;
        double beta1 = 0.9;
        double beta2 = 0.99;
        double eps = 1e-8;
        float[] w0 = {0.5f, -1.0f, 2.0f, 0.25f};
        float[] b0 = {0.3f, -0.7f};
        try (NDManager manager = NDManager.newBaseManager()) {
            Parameter w = parameter(manager, "w", new Shape(2, 2), w0);
            Parameter b = parameter(manager, "b", new Shape(2), b0);
            AdamW adam = new AdamW(List.of(w, b), new OptimizerSpec("adamw", lr, decay, beta1, beta2, eps), manager);
            double[] ew = toDouble(w0);
            double[] eb = toDouble(b0);
            double[] mw = new double[4];
            double[] vw = new double[4];
            double[] mb = new double[2];
            double[] vb = new double[2];
            for (int t = 1; t <= 3; t++) {
                // loss = sum(w^3) / 3 + sum(b^2): gradients w^2 and 2b
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = Scalars.div(Scalars.pow(w.getArray(), 3).sum(), 3).add(b.getArray().square().sum());
                    collector.backward(loss);
                }
                adam.step(lr);
                adam.zeroGradients();
                for (int i = 0; i < 4; i++) {
                    double g = ew[i] * ew[i];
                    mw[i] = beta1 * mw[i] + (1 - beta1) * g;
                    vw[i] = beta2 * vw[i] + (1 - beta2) * g * g;
                    double mHat = mw[i] / (1 - Math.pow(beta1, t));
                    double vHat = vw[i] / (1 - Math.pow(beta2, t));
                    ew[i] = ew[i] * (1 - lr * decay) - lr * mHat / (Math.sqrt(vHat) + eps);
                }
                for (int i = 0; i < 2; i++) {
                    double g = 2 * eb[i];
                    mb[i] = beta1 * mb[i] + (1 - beta1) * g;
                    vb[i] = beta2 * vb[i] + (1 - beta2) * g * g;
                    double mHat = mb[i] / (1 - Math.pow(beta1, t));
                    double vHat = vb[i] / (1 - Math.pow(beta2, t));
                    eb[i] = eb[i] - lr * mHat / (Math.sqrt(vHat) + eps);
                }
                float[] actualW = w.getArray().toFloatArray();
                float[] actualB = b.getArray().toFloatArray();
                for (int i = 0; i < 4; i++) {
                    assertEquals(ew[i], actualW[i], 1e-5, "w[" + i + "] after step " + t);
                }
                for (int i = 0; i < 2; i++) {
                    assertEquals(eb[i], actualB[i], 1e-5, "b[" + i + "] after step " + t + " (no decay on biases)");
                }
                assertEquals(0f, w.getArray().getGradient().abs().sum().getFloat(), "gradients are zeroed after a step");
            }
        }
    }

    /**
     * The fused CPU pass against the chain of engine operations per parameter, on parameters large
     * enough to be split over two threads, with gradients from the store's leaves, a parameter read
     * directly (a loss's scalar), learning rates that change and a clipping scale. The first update
     * agrees to float32 rounding; after it the two sets of weights differ in the last bit, so do the
     * next gradients, and Adam's normalised step m / sqrt(v) magnifies that where a gradient is near
     * 0: the weights then agree to 1e-5 (a thousandth of the learning rate; a missing decay or bias
     * correction is a hundred times that), the moments, linear in the gradients and the clipping
     * scale, to a thousandth of their largest value.
     */
    @Test
    void theFusedPassMatchesThePerParameterChain() {
        OptimizerSpec spec = new OptimizerSpec("adamw", 0.01, 0.1, 0.9, 0.999, 1e-8);
        try (NDManager manager = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(3);
            float[] matrix = manager.randomNormal(new Shape(300, 230)).toFloatArray();
            float[] bias = manager.randomNormal(new Shape(230)).toFloatArray();
            float[] input = manager.randomNormal(new Shape(16, 300)).toFloatArray();
            List<Parameter> fusedParameters = List.of(parameter(manager, "w", new Shape(300, 230), matrix),
                    parameter(manager, "b", new Shape(230), bias), parameter(manager, "s", new Shape(), new float[] {0.5f}));
            List<Parameter> chainParameters = List.of(parameter(manager, "w", new Shape(300, 230), matrix),
                    parameter(manager, "b", new Shape(230), bias), parameter(manager, "s", new Shape(), new float[] {0.5f}));
            AdamW fused = new AdamW(fusedParameters, spec, manager, 2);
            AdamW chain = new AdamW(chainParameters, spec, manager, 2);
            assertTrue(fused.fused(), "float32 CPU parameters take the fused pass");
            NDArray x = manager.create(input, new Shape(16, 300));
            double[] rates = {0.01, 0.02, 0.005, 0.01};
            float[] scales = {1f, 0.25f, 1f, 0.5f};
            for (int t = 0; t < rates.length; t++) {
                try (NDManager step = manager.newSubManager()) {
                    double fusedNorm = backward(fused, fusedParameters, x, step);
                    double chainNorm = backward(chain, chainParameters, x, step);
                    // float32 lanes of at most 8 squares: within 5e-7 of the float64 sum.
                    assertEquals(expectedNorm(chain), fusedNorm, 5e-7 * fusedNorm, "the fused norm at step " + t);
                    assertEquals(fusedNorm, chainNorm, 5e-7 * fusedNorm, "both see the same gradients at step " + t);
                    fused.step(rates[t], scales[t]);
                    chain.stepPerParameter(rates[t], scales[t]);
                    fused.zeroGradients();
                    chain.zeroGradients();
                }
                for (int i = 0; i < fusedParameters.size(); i++) {
                    assertClose(chainParameters.get(i).getArray().toFloatArray(),
                            fusedParameters.get(i).getArray().toFloatArray(), t == 0 ? 2e-6f : 1e-5f, 0f,
                            "parameter " + i + " after step " + t);
                }
            }
            List<NDArray> fusedState = fused.arrays();
            List<NDArray> chainState = chain.arrays();
            assertEquals(chainState.size(), fusedState.size());
            for (int i = 0; i < fusedState.size(); i++) {
                float[] expected = chainState.get(i).toFloatArray();
                float largest = 0;
                for (float value : expected) {
                    largest = Math.max(largest, Math.abs(value));
                }
                assertClose(expected, fusedState.get(i).toFloatArray(), 1e-3f * largest, 0f, "state array " + i);
            }
        }
    }

    /**
     * Gradients whose float32 squares overflow (above 1.8e19) or vanish (below 1e-22) still get their exact norm:
     * the float32 lanes give way to a float64 pass.
     */
    @Test
    void theNormOfGradientsBeyondFloat32SquaresIsExact() {
        OptimizerSpec spec = new OptimizerSpec("adamw", 0.1, 0.0, 0.9, 0.999, 1e-8);
        for (float magnitude : new float[] {1e20f, 1e-25f, 1f}) {
            try (NDManager manager = NDManager.newBaseManager()) {
                // 70,000 values, over two threads' parts and many blocks: gradient c_i of loss sum(w * c).
                float[] c = new float[70000];
                double sum = 0;
                for (int i = 0; i < c.length; i++) {
                    c[i] = magnitude * (1 + i % 7) * (i % 2 == 0 ? 1 : -1);
                    sum += (double) c[i] * c[i];
                }
                Parameter w = parameter(manager, "w", new Shape(c.length), new float[c.length]);
                AdamW adam = new AdamW(List.of(w), spec, manager, 2);
                ParameterStore store = adam.parameterStore(manager);
                try (NDManager step = manager.newSubManager()) {
                    step.tempAttachAll(w.getArray());
                    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                        NDArray value = store.getValue(w, w.getArray().getDevice(), true);
                        collector.backward(value.mul(step.create(c)).sum());
                    }
                    assertTrue(adam.fused(), "the fused CPU pass is under test");
                    assertEquals(Math.sqrt(sum), adam.gradientNorm(), 5e-7 * Math.sqrt(sum), "gradients of " + magnitude);
                }
            }
        }
    }

    /**
     * The fused passes hand out chunks of all parameters laid end to end to whichever thread is free: the norm
     * (partial sums added in the chunks' order) and the update come out the same to the bit at 1, 2 and 3
     * threads, over parameters that chunks cross (a matrix larger than a chunk, a small vector between).
     */
    @Test
    void theFusedPassesGiveTheSameBitsAtAnyNumberOfThreads() {
        OptimizerSpec spec = new OptimizerSpec("adamw", 0.01, 0.1, 0.9, 0.98, 1e-6);
        double[] norms = new double[3];
        float[][] weights = new float[3][];
        for (int threads = 1; threads <= 3; threads++) {
            try (NDManager manager = NDManager.newBaseManager()) {
                java.util.Random random = new java.util.Random(11);
                Shape[] shapes = {new Shape(300, 500), new Shape(7), new Shape(70000)};
                List<Parameter> parameters = new java.util.ArrayList<>();
                List<float[]> targets = new java.util.ArrayList<>();
                for (int i = 0; i < shapes.length; i++) {
                    float[] start = new float[Math.toIntExact(shapes[i].size())];
                    float[] target = new float[start.length];
                    for (int j = 0; j < start.length; j++) {
                        start[j] = (float) random.nextGaussian();
                        target[j] = (float) random.nextGaussian();
                    }
                    parameters.add(parameter(manager, "p" + i, shapes[i], start));
                    targets.add(target);
                }
                AdamW adam = new AdamW(parameters, spec, manager, threads);
                ParameterStore store = adam.parameterStore(manager);
                for (int t = 0; t < 2; t++) {
                    try (NDManager step = manager.newSubManager()) {
                        parameters.forEach(p -> step.tempAttachAll(p.getArray()));
                        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                            NDArray loss = null;
                            for (int i = 0; i < parameters.size(); i++) {
                                Parameter p = parameters.get(i);
                                NDArray value = store.getValue(p, p.getArray().getDevice(), true);
                                NDArray term = value.sub(step.create(targets.get(i), shapes[i])).square().sum();
                                loss = loss == null ? term : loss.add(term);
                            }
                            collector.backward(loss);
                        }
                        assertTrue(adam.fused(), "the fused CPU pass is under test");
                        norms[threads - 1] = adam.gradientNorm();
                        adam.step(0.01, 0.5f);
                        adam.zeroGradients();
                    }
                }
                float[] all = new float[0];
                for (Parameter p : parameters) {
                    float[] values = p.getArray().toFloatArray();
                    float[] joined = java.util.Arrays.copyOf(all, all.length + values.length);
                    System.arraycopy(values, 0, joined, all.length, values.length);
                    all = joined;
                }
                weights[threads - 1] = all;
            }
        }
        for (int threads = 2; threads <= 3; threads++) {
            assertEquals(norms[0], norms[threads - 1], 0.0, "the gradient norm at " + threads + " threads");
            assertArrayEquals(weights[0], weights[threads - 1], 0f, "the weights after two steps at " + threads + " threads");
        }
    }

    /**
     * Gradients start from nothing at each step (PyTorch's set_to_none): the store's leaves get a
     * fresh gradient, the parameters themselves none, and a second step's gradient is that step's alone.
     */
    @Test
    void leavesGiveEachStepItsOwnGradient() {
        OptimizerSpec spec = new OptimizerSpec("adamw", 0.1, 0.0, 0.9, 0.999, 1e-8);
        try (NDManager manager = NDManager.newBaseManager()) {
            Parameter w = parameter(manager, "w", new Shape(2), new float[] {1f, -2f});
            AdamW adam = new AdamW(List.of(w), spec, manager);
            ParameterStore store = adam.parameterStore(manager);
            for (int t = 1; t <= 2; t++) {
                try (NDManager step = manager.newSubManager()) {
                    step.tempAttachAll(w.getArray());
                    float[] current = w.getArray().toFloatArray();
                    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                        // loss = t * sum(w^2): gradient 2 t w
                        NDArray value = store.getValue(w, w.getArray().getDevice(), true);
                        collector.backward(Scalars.mul(value.square().sum(), t));
                    }
                    float[] expected = {2f * t * current[0], 2f * t * current[1]};
                    assertArrayEquals(expected, adam.gradients().get(0).toFloatArray(), 1e-6f, "step " + t);
                    assertEquals(Math.hypot(expected[0], expected[1]), adam.gradientNorm(), 1e-5);
                    adam.step(0.1);
                    adam.zeroGradients();
                }
            }
            assertNull(ai.djl.pytorch.jni.JniUtils.getGradient((ai.djl.pytorch.engine.PtNDArray) w.getArray()),
                    "the parameter itself never gets a gradient");
        }
    }

    /** A backward pass of sum(tanh(x w + b)^2) * s through the store, s read directly; the optimiser's norm. */
    private static double backward(AdamW adam, List<Parameter> parameters, NDArray x, NDManager step) {
        step.tempAttachAll(adam.arrays().toArray(new NDArray[0])); // the weights among them
        ParameterStore store = adam.parameterStore(step);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray w = store.getValue(parameters.get(0), x.getDevice(), true);
            NDArray b = store.getValue(parameters.get(1), x.getDevice(), true);
            NDArray s = parameters.get(2).getArray();
            NDArray loss = x.matMul(w).add(b).tanh().square().sum().mul(s);
            collector.backward(loss);
        }
        return adam.gradientNorm();
    }

    private static double expectedNorm(AdamW adam) {
        double sum = 0;
        for (NDArray gradient : adam.gradients()) {
            for (float value : gradient.toFloatArray()) {
                sum += (double) value * value;
            }
        }
        return Math.sqrt(sum);
    }

    private static void assertClose(float[] expected, float[] actual, float absolute, float relative, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], absolute + relative * Math.abs(expected[i]), what + " [" + i + "]");
        }
    }

    @Test
    void scheduleWarmsUpLinearlyThenFollowsHalfACosine() {
        CosineSchedule schedule = CosineSchedule.of(1.0, 100, 0.1, 0.1);
        assertEquals(0.1, schedule.at(0), 1e-12);
        assertEquals(1.0, schedule.at(9), 1e-12);
        assertEquals(1.0, schedule.at(10), 1e-12);
        assertEquals(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 45 / 90)), schedule.at(55), 1e-12);
        assertEquals(0.1, schedule.at(100), 1e-12);
    }

    private static Parameter parameter(NDManager manager, String name, Shape shape, float[] values) {
        Parameter parameter = Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).optShape(shape)
                .optInitializer((Initializer) (m, s, t) -> m.create(values, s)).build();
        parameter.initialize(manager, DataType.FLOAT32);
        return parameter;
    }

    private static double[] toDouble(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }
}
