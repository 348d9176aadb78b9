package dev.modalign.plugins.tempnet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.Initializer;
import java.util.Random;

/**
 * Random initial weights drawn in Java from a generator seeded by the run's seed, so that the network
 * starts the same for a seed on any device and whatever the engine's global generator has been used
 * for; two losses built from the same parameters and seed start identical.
 */
final class SeededInitializer implements Initializer {

    private enum Distribution { UNIFORM, NORMAL }

    private final Distribution distribution;
    private final double scale;
    private final long seed;

    private SeededInitializer(Distribution distribution, double scale, long seed) {
        this.distribution = distribution;
        this.scale = scale;
        this.seed = seed;
    }

    /** Uniform on [-bound, bound]. */
    static SeededInitializer uniform(double bound, long seed) {
        return new SeededInitializer(Distribution.UNIFORM, bound, seed);
    }

    /** Normal with mean 0 and the given standard deviation. */
    static SeededInitializer normal(double std, long seed) {
        return new SeededInitializer(Distribution.NORMAL, std, seed);
    }

    /**
     * A seed for one weight of one network, from the run's seed (SplitMix64's finaliser over the
     * combined values, so that nearby run seeds give unrelated streams).
     */
    static long derive(long runSeed, int network, int weight) {
        long z = runSeed + 0x9E3779B97F4A7C15L * (1 + network * 31L + weight);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public NDArray initialize(NDManager manager, Shape shape, DataType dataType) {
        Random random = new Random(seed);
        float[] values = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (distribution == Distribution.UNIFORM
                    ? scale * (2 * random.nextDouble() - 1)
                    : scale * random.nextGaussian());
        }
        return manager.create(values, shape).toType(dataType, false);
    }
}
