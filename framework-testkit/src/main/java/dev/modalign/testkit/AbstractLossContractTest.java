package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.BatchEncoder;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.StepContext;
import dev.modalign.api.TowerOutput;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Loss} must do. A plugin's test extends it, supplying the factory and minimal
 * parameters; override the hooks where the loss needs more than two towers with embeddings.
 *
 * @param <P> the loss's parameter record
 */
public abstract class AbstractLossContractTest<P extends Record> extends PluginContract {

    /** The factory under test. */
    protected abstract ComponentFactory<P, Loss> factory();

    /** Minimal parameters. */
    protected abstract P params();

    /** The towers the loss reads. */
    protected List<String> towers() {
        return List.of("a", "b");
    }

    protected int embedDim() {
        return 16;
    }

    protected int batchSize() {
        return 8;
    }

    /**
     * A batch for the loss: by default each tower's embedding is random normal [B, D] (the rows of
     * the second tower correlated with the first, as real pairs are), and labels 0..3 repeating.
     * Override to add token features. Embeddings must have gradients attached; token features too, when
     * the loss reads them only (their gradients are then checked as the embeddings' are).
     */
    protected EncodedBatch batch(NDManager manager, int batchSize, float scale) {
        Map<String, TowerOutput> outputs = new LinkedHashMap<>();
        NDArray base = manager.randomNormal(new Shape(batchSize, embedDim()));
        for (String tower : towers()) {
            NDArray embedding = base.add(manager.randomNormal(new Shape(batchSize, embedDim())).mul(0.5)).mul(scale);
            embedding.setRequiresGradient(true);
            outputs.put(tower, new TowerOutput(embedding));
        }
        long[] labels = new long[batchSize];
        for (int i = 0; i < batchSize; i++) {
            labels[i] = i % 4;
        }
        return new EncodedBatch(outputs, manager.create(labels));
    }

    protected NDManager manager;

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
        Engine.getInstance().setRandomSeed(11);
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return factory();
    }

    protected ComponentContext context() {
        return TestContext.builder().optTowers(towers(), embedDim()).build();
    }

    protected Loss newLoss(NDManager parameterManager) {
        return LossFixtures.newLoss(factory(), params(), context(), parameterManager);
    }

    private StepContext step(NDManager stepManager, EncodedBatch batch) {
        return step(stepManager, batch, true);
    }

    private StepContext step(NDManager stepManager, EncodedBatch batch, boolean metricsLogged) {
        return new StepContext(0, 0, 10, new Random(3), stepManager, true, batchEncoder(batch, stepManager),
                metricsLogged);
    }

    /**
     * What the loss may encode itself during a step ({@link StepContext#encoder()}, API 1.3): none by default.
     * A loss that makes inputs of its own (hard-negative captions) overrides this with raw values of the
     * batch's size and an encoder that maps them to embeddings, e.g. deterministic vectors per value.
     */
    protected BatchEncoder batchEncoder(EncodedBatch batch, NDManager stepManager) {
        return BatchEncoder.UNAVAILABLE;
    }

    @Test
    void lossIsAFiniteScalarWithFiniteGradients() {
        Loss loss = newLoss(manager);
        try (NDManager stepManager = manager.newSubManager()) {
            EncodedBatch batch = batch(stepManager, batchSize(), 1f);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                LossOutput output = loss.compute(batch, step(stepManager, batch));
                assertTrue(output.value().getShape().isScalar(),
                        "the loss value must be a scalar, found shape " + output.value().getShape());
                Tensors.assertFinite(output.value(), "loss value");
                collector.backward(output.value());
            }
            boolean anyNonZero = false;
            for (String tower : towers()) {
                NDArray gradient = batch.tower(tower).embedding().getGradient();
                Tensors.assertFinite(gradient, "gradient with respect to tower " + tower);
                anyNonZero |= gradient.abs().sum().getFloat() > 0;
                NDArray tokens = batch.tower(tower).tokens();
                if (tokens != null && tokens.hasGradient()) {
                    // A token-level loss (FILIP's) may read token features only.
                    NDArray tokenGradient = tokens.getGradient();
                    Tensors.assertFinite(tokenGradient, "gradient with respect to the token features of tower " + tower);
                    anyNonZero |= tokenGradient.abs().sum().getFloat() > 0;
                }
            }
            assertTrue(anyNonZero, "the loss has no gradient with respect to any tower's embedding or token features");
            for (Parameter parameter : loss.parameters()) {
                Tensors.assertFinite(parameter.getArray().getGradient(), "gradient of parameter " + parameter.getName());
            }
        }
    }

    @Test
    void gradientsSurviveAGarbageCollectionBetweenForwardAndBackward() {
        Map<String, float[]> plain = gradients(false, true);
        Map<String, float[]> collected = gradients(true, true);
        for (Map.Entry<String, float[]> entry : plain.entrySet()) {
            Tensors.assertClose(entry.getValue(), collected.get(entry.getKey()), 0, entry.getKey() + ": "
                    + Tensors.GARBAGE_ADVICE);
        }
    }

    /**
     * On a step whose metrics the host does not log ({@link StepContext#metricsLogged()} false, API 1.4) a loss
     * may leave its metrics out, but its value and gradients must be those of a logged step, bit for bit.
     */
    @Test
    void stepsWhoseMetricsAreNotLoggedTrainAlike() {
        Map<String, float[]> logged = gradients(false, true);
        Map<String, float[]> unlogged = gradients(false, false);
        assertEquals(logged.keySet(), unlogged.keySet(), "different gradients exist with and without logged metrics");
        for (Map.Entry<String, float[]> entry : logged.entrySet()) {
            Tensors.assertClose(entry.getValue(), unlogged.get(entry.getKey()), 0, entry.getKey() + " differs on a step"
                    + " whose metrics are not logged; leave out only what feeds the metrics, not the loss");
        }
    }

    private Map<String, float[]> gradients(boolean collectGarbage, boolean metricsLogged) {
        Map<String, float[]> gradients = new LinkedHashMap<>();
        try (NDManager runManager = manager.newSubManager()) {
            Engine.getInstance().setRandomSeed(17);
            Loss loss = newLoss(runManager);
            try (NDManager stepManager = runManager.newSubManager()) {
                EncodedBatch batch = batch(stepManager, batchSize(), 1f);
                Object scribbles = null;
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    LossOutput output = loss.compute(batch, step(stepManager, batch, metricsLogged));
                    if (collectGarbage) {
                        scribbles = Tensors.collectGarbageAndScribble();
                    }
                    gradients.put("loss value", new float[] {output.value().getFloat()});
                    collector.backward(output.value());
                }
                for (String tower : towers()) {
                    gradients.put("gradient with respect to tower " + tower,
                            batch.tower(tower).embedding().getGradient().toFloatArray());
                    NDArray tokens = batch.tower(tower).tokens();
                    if (tokens != null && tokens.hasGradient()) {
                        gradients.put("gradient with respect to the token features of tower " + tower,
                                tokens.getGradient().toFloatArray());
                    }
                }
                for (Parameter parameter : loss.parameters()) {
                    gradients.put("gradient of parameter " + parameter.getName(),
                            parameter.getArray().getGradient().toFloatArray());
                }
                java.lang.ref.Reference.reachabilityFence(scribbles);
            }
        }
        return gradients;
    }

    @Test
    void sameInputsGiveTheSameValue() {
        Loss first = newLoss(manager);
        Loss second = newLoss(manager);
        try (NDManager stepManager = manager.newSubManager()) {
            EncodedBatch batch = batch(stepManager, batchSize(), 1f);
            float a = first.compute(batch, step(stepManager, batch)).value().getFloat();
            float b = second.compute(batch, step(stepManager, batch)).value().getFloat();
            assertEquals(a, b, 1e-6 * Math.max(1, Math.abs(a)), "two losses with the same parameters disagree");
        }
    }

    @Test
    void batchOfOneIsFinite() {
        Loss loss = newLoss(manager);
        try (NDManager stepManager = manager.newSubManager()) {
            EncodedBatch one = batch(stepManager, 1, 1f);
            LossOutput output = loss.compute(one, step(stepManager, one));
            Tensors.assertFinite(output.value(), "loss value for a batch of one");
        }
    }

    @Test
    void largeEmbeddingsDoNotOverflow() {
        Loss loss = newLoss(manager);
        try (NDManager stepManager = manager.newSubManager()) {
            EncodedBatch batch = batch(stepManager, batchSize(), 1e4f);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                LossOutput output = loss.compute(batch, step(stepManager, batch));
                Tensors.assertFinite(output.value(), "loss value for embeddings of magnitude 1e4");
                collector.backward(output.value());
            }
            for (String tower : towers()) {
                Tensors.assertFinite(batch.tower(tower).embedding().getGradient(), "gradient for embeddings of magnitude 1e4");
            }
        }
    }

    @Test
    void stepArraysStayInTheStepManager() {
        Loss loss = newLoss(manager);
        int before = manager.getManagedArrays().size();
        try (NDManager stepManager = manager.newSubManager()) {
            // As the trainer does: parameters are lent to the step's manager, so arrays derived from them die with it.
            loss.parameters().forEach(p -> stepManager.tempAttachAll(p.getArray()));
            EncodedBatch batch = batch(stepManager, batchSize(), 1f);
            LossOutput output = loss.compute(batch, step(stepManager, batch));
            loss.afterStep(batch, step(stepManager, batch));
            output.value().getFloat();
        }
        assertEquals(before, manager.getManagedArrays().size(),
                "the loss left arrays in the parent manager; create per-step arrays in context.manager()");
        assertFalse(factory().description().isBlank());
    }

    /**
     * Parameters for {@link #aLossRestoredFromItsSavedStateGoesOnExactlyAsTheOriginal}: by default {@link #params()};
     * override so that the loss's state builds within {@link #stepsBeforeCheckpoint()} steps (a memory that
     * re-clusters every 2 steps, say).
     */
    protected P checkpointParams() {
        return params();
    }

    /** Steps taken, each with {@link Loss#afterStep}, before the state is saved. */
    protected int stepsBeforeCheckpoint() {
        return 4;
    }

    /**
     * A run resumed from a checkpoint must go on exactly as it would have: a loss whose parameters are
     * copied (the host checkpoints those) and whose {@link Loss#saveState} is loaded into a fresh instance
     * computes the same values as the original, bit for bit, and saves the same state after more steps.
     */
    @Test
    void aLossRestoredFromItsSavedStateGoesOnExactlyAsTheOriginal() throws java.io.IOException {
        Loss original = LossFixtures.newLoss(factory(), checkpointParams(), context(), manager);
        Loss restored = LossFixtures.newLoss(factory(), checkpointParams(), context(), manager);
        int before = stepsBeforeCheckpoint();
        for (int s = 0; s < before; s++) {
            try (NDManager stepManager = manager.newSubManager()) {
                original.parameters().forEach(p -> stepManager.tempAttachAll(p.getArray()));
                EncodedBatch batch = batch(stepManager, batchSize(), 1f);
                StepContext context = new StepContext(s, 0, 100, new Random(s), stepManager, true,
                        batchEncoder(batch, stepManager));
                original.compute(batch, context);
                original.afterStep(batch, context);
            }
        }
        List<Parameter> from = original.parameters();
        List<Parameter> to = restored.parameters();
        assertEquals(from.size(), to.size(), "two losses of the same parameters own different numbers of parameters");
        for (int i = 0; i < from.size(); i++) {
            to.get(i).getArray().set(new ai.djl.ndarray.index.NDIndex("..."), from.get(i).getArray());
        }
        byte[] saved = savedState(original);
        if (saved.length > 0) {
            restored.loadState(new java.io.DataInputStream(new java.io.ByteArrayInputStream(saved)));
        }
        for (int s = before; s < before + 3; s++) {
            try (NDManager stepManager = manager.newSubManager()) {
                original.parameters().forEach(p -> stepManager.tempAttachAll(p.getArray()));
                restored.parameters().forEach(p -> stepManager.tempAttachAll(p.getArray()));
                EncodedBatch batch = batch(stepManager, batchSize(), 1f);
                StepContext first = new StepContext(s, 0, 100, new Random(s), stepManager, true,
                        batchEncoder(batch, stepManager));
                StepContext second = new StepContext(s, 0, 100, new Random(s), stepManager, true,
                        batchEncoder(batch, stepManager));
                float expected = original.compute(batch, first).value().getFloat();
                float actual = restored.compute(batch, second).value().getFloat();
                assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(actual), "step " + s + " after the state"
                        + " was restored: " + expected + " originally, " + actual + " restored; saveState must write all"
                        + " the state afterStep keeps, and loadState read it back");
                original.afterStep(batch, first);
                restored.afterStep(batch, second);
            }
        }
        assertEquals(java.util.Arrays.toString(savedState(original)), java.util.Arrays.toString(savedState(restored)),
                "the two losses hold different state after the same steps");
    }

    private static byte[] savedState(Loss loss) throws java.io.IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.DataOutputStream out = new java.io.DataOutputStream(bytes)) {
            loss.saveState(out);
        }
        return bytes.toByteArray();
    }
}
