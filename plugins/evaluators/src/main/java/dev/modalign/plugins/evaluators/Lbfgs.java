package dev.modalign.plugins.evaluators;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Limited-memory BFGS with a backtracking (Armijo) line search, in plain Java doubles: "On the
 * limited memory BFGS method for large scale optimization" (Liu and Nocedal, 1989), the two-loop
 * recursion of Nocedal and Wright, "Numerical Optimization", Algorithm 7.4, with the initial
 * Hessian scaled by s'y / y'y (Eq. 7.20). Deterministic: the same function and start give the same
 * iterates on every machine.
 */
final class Lbfgs {

    /** A smooth function to minimise. */
    interface Objective {
        /** Returns f(x) and writes its gradient into {@code gradient}. */
        double valueAndGradient(double[] x, double[] gradient);
    }

    private static final int MEMORY = 10;
    private static final double ARMIJO = 1e-4;
    private static final int MAX_BACKTRACKS = 60;

    private Lbfgs() {}

    /**
     * Minimises {@code objective} from {@code start} until the largest gradient component is below
     * {@code gradientTolerance}, a step no longer lowers f (relative change below 1e-13), or after
     * {@code maxIterations}.
     */
    static double[] minimise(Objective objective, double[] start, int maxIterations, double gradientTolerance) {
        int n = start.length;
        double[] x = start.clone();
        double[] gradient = new double[n];
        double value = objective.valueAndGradient(x, gradient);
        Deque<double[]> steps = new ArrayDeque<>();
        Deque<double[]> gradientChanges = new ArrayDeque<>();
        Deque<Double> curvatures = new ArrayDeque<>();
        double[] nextX = new double[n];
        double[] nextGradient = new double[n];
        for (int iteration = 0; iteration < maxIterations && maxAbs(gradient) >= gradientTolerance; iteration++) {
            double[] direction = direction(gradient, steps, gradientChanges, curvatures);
            double slope = dot(gradient, direction);
            if (!(slope < 0)) {
                // Not a descent direction (rounding): forget the curvature pairs and go down the gradient.
                steps.clear();
                gradientChanges.clear();
                curvatures.clear();
                direction = scaled(gradient, -1);
                slope = -dot(gradient, gradient);
            }
            // The first step has no curvature to scale it: keep it at most unit length.
            double step = steps.isEmpty() ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
            double nextValue = Double.NaN;
            boolean accepted = false;
            for (int backtrack = 0; backtrack < MAX_BACKTRACKS; backtrack++) {
                for (int i = 0; i < n; i++) {
                    nextX[i] = x[i] + step * direction[i];
                }
                nextValue = objective.valueAndGradient(nextX, nextGradient);
                if (nextValue <= value + ARMIJO * step * slope) {
                    accepted = true;
                    break;
                }
                step /= 2;
            }
            if (!accepted) {
                break;
            }
            double[] s = new double[n];
            double[] y = new double[n];
            for (int i = 0; i < n; i++) {
                s[i] = nextX[i] - x[i];
                y[i] = nextGradient[i] - gradient[i];
            }
            double sy = dot(s, y);
            if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
                if (steps.size() == MEMORY) {
                    steps.removeFirst();
                    gradientChanges.removeFirst();
                    curvatures.removeFirst();
                }
                steps.addLast(s);
                gradientChanges.addLast(y);
                curvatures.addLast(1 / sy);
            }
            double decrease = value - nextValue;
            System.arraycopy(nextX, 0, x, 0, n);
            System.arraycopy(nextGradient, 0, gradient, 0, n);
            value = nextValue;
            if (decrease <= 1e-13 * Math.max(1, Math.abs(value))) {
                break;
            }
        }
        return x;
    }

    /** -H g by the two-loop recursion over the stored pairs, oldest first in the deques. */
    private static double[] direction(double[] gradient, Deque<double[]> steps, Deque<double[]> gradientChanges,
            Deque<Double> curvatures) {
        double[] q = gradient.clone();
        int m = steps.size();
        double[][] s = steps.toArray(new double[0][]);
        double[][] y = gradientChanges.toArray(new double[0][]);
        Double[] rho = curvatures.toArray(new Double[0]);
        double[] alpha = new double[m];
        for (int k = m - 1; k >= 0; k--) {
            alpha[k] = rho[k] * dot(s[k], q);
            axpy(-alpha[k], y[k], q);
        }
        if (m > 0) {
            double gamma = dot(s[m - 1], y[m - 1]) / dot(y[m - 1], y[m - 1]);
            for (int i = 0; i < q.length; i++) {
                q[i] *= gamma;
            }
        }
        for (int k = 0; k < m; k++) {
            double beta = rho[k] * dot(y[k], q);
            axpy(alpha[k] - beta, s[k], q);
        }
        return scaled(q, -1);
    }

    private static double dot(double[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }

    private static void axpy(double a, double[] x, double[] y) {
        for (int i = 0; i < y.length; i++) {
            y[i] += a * x[i];
        }
    }

    private static double[] scaled(double[] x, double factor) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = factor * x[i];
        }
        return out;
    }

    private static double maxAbs(double[] x) {
        double max = 0;
        for (double value : x) {
            max = Math.max(max, Math.abs(value));
        }
        return max;
    }
}
