package dev.modalign.core.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Matrix products on the engine, the ceiling a step's GFLOP/s is read against. */
final class Gemm {

    private Gemm() {}

    /** GFLOP/s of an n x n by n x n float32 product on the engine's current threads: the median of {@code repeats}. */
    static double gflops(NDManager manager, int n, int repeats) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray a = scope.randomNormal(new Shape(n, n));
            NDArray b = scope.randomNormal(new Shape(n, n));
            a.matMul(b).close(); // warm-up: threads, allocator
            double[] rates = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                long started = System.nanoTime();
                NDArray product = a.matMul(b);
                product.getFloat(0, 0); // the engine is synchronous on CPU; read one value to be sure on a GPU too
                rates[r] = 2.0 * n * n * n / ((System.nanoTime() - started) / 1e9) / 1e9;
                product.close();
            }
            return Samples.of(rates).median();
        }
    }
}
