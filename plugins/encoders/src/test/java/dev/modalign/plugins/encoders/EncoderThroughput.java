package dev.modalign.plugins.encoders;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.TokenSpec;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Measures forward + backward time per batch of 128 with the default parameters: {@code cnn} on
 * 32x32x3 and 64x64x3 images, {@code transformer} on T=16 tokens from a vocabulary of 4096. Not a
 * test: run it by hand, e.g. {@code java -cp <test classpath> dev.modalign.plugins.encoders.EncoderThroughput}.
 */
public final class EncoderThroughput {

    private static final int BATCH = 128;
    private static final int WARM_UP = 5;
    private static final int MEASURED = 20;

    private EncoderThroughput() {}

    public static void main(String[] args) {
        Engine.getInstance().setRandomSeed(1);
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int side : new int[] {32, 64}) {
                ImageSpec image = new ImageSpec(3, side, side);
                Encoder cnn = CnnEncoder.FACTORY.create(new CnnEncoder.Params(List.of(32, 64, 128), 128, 32),
                        TestContext.builder().optInput(image).build());
                measure("cnn " + side + "x" + side + "x3", cnn, manager,
                        m -> new NDList(m.randomNormal(new Shape(BATCH, 3, side, side))));
            }
            TokenSpec tokens = new TokenSpec(4096, 16, 0, 1);
            Encoder transformer = TransformerEncoder.FACTORY.create(
                    new TransformerEncoder.Params(128, 2, 4, 4, 0.0, "mean", 128),
                    TestContext.builder().optInput(tokens).build());
            Random random = new Random(1);
            measure("transformer T=16 vocab 4096", transformer, manager, m -> {
                int[] ids = new int[BATCH * 16];
                float[] mask = new float[BATCH * 16];
                for (int b = 0; b < BATCH; b++) {
                    int length = 4 + random.nextInt(13);
                    for (int t = 0; t < length; t++) {
                        ids[b * 16 + t] = 2 + random.nextInt(4094);
                        mask[b * 16 + t] = 1;
                    }
                }
                return new NDList(m.create(ids, new Shape(BATCH, 16)), m.create(mask, new Shape(BATCH, 16)));
            });
        }
    }

    private interface BatchMaker {
        NDList make(NDManager manager);
    }

    private static void measure(String what, Encoder encoder, NDManager manager, BatchMaker batches) {
        try (NDManager initManager = manager.newSubManager()) {
            encoder.block().initialize(manager, DataType.FLOAT32, batches.make(initManager).getShapes());
        }
        ParameterStore store = new ParameterStore(manager, false);
        long[] times = new long[MEASURED];
        for (int i = 0; i < WARM_UP + MEASURED; i++) {
            try (NDManager step = manager.newSubManager()) {
                NDList batch = batches.make(step);
                long start = System.nanoTime();
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray embedding = encoder.block().forward(store, batch, true).get(0);
                    collector.backward(embedding.square().mean());
                }
                long elapsed = System.nanoTime() - start;
                if (i >= WARM_UP) {
                    times[i - WARM_UP] = elapsed;
                }
            }
        }
        // Median and minimum: on a shared machine the mean mostly measures the neighbours.
        Arrays.sort(times);
        System.out.printf("%s: forward+backward per batch of %d: median %.1f ms, min %.1f ms (%d steps, %d cores)%n",
                what, BATCH, times[MEASURED / 2] / 1e6, times[0] / 1e6, MEASURED,
                Runtime.getRuntime().availableProcessors());
    }
}
