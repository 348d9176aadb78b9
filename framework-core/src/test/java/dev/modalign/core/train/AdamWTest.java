package dev.modalign.core.train;

import dev.modalign.api.Scalars;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
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
