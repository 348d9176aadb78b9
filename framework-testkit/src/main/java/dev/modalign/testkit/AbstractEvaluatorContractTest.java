package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Evaluator} must do: finite metrics, the same metrics for the same embeddings,
 * and artifacts that exist.
 *
 * @param <P> the evaluator's parameter record
 */
public abstract class AbstractEvaluatorContractTest<P extends Record> extends PluginContract {

    protected abstract ComponentFactory<P, Evaluator> factory();

    protected abstract P params();

    protected List<String> towers() {
        return List.of("a", "b");
    }

    /**
     * Fills a context with N paired embeddings per tower, labels (4 classes) and a seed; override for
     * other needs, e.g. to give it an {@link FixedEvalContext#encoder} for an evaluator that encodes
     * its own inputs.
     */
    protected FixedEvalContext context(NDManager manager) {
        Engine.getInstance().setRandomSeed(3);
        int n = 40;
        NDArray base = manager.randomNormal(new Shape(n, 8));
        FixedEvalContext context = new FixedEvalContext(manager);
        for (String tower : towers()) {
            context.tower(tower, base.add(manager.randomNormal(new Shape(n, 8)).mul(0.3)));
        }
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 4;
        }
        return context.labels(labels).seed(11).towers(towers().toArray(String[]::new));
    }

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return factory();
    }

    private Evaluator evaluator() {
        return factory().create(params(), TestContext.builder().optTowers(towers(), 8).build());
    }

    @Test
    void metricsAreFiniteAndRepeatable() {
        try (NDManager manager = NDManager.newBaseManager()) {
            FixedEvalContext context = context(manager);
            EvalResult first = evaluator().evaluate(context);
            EvalResult second = evaluator().evaluate(context);
            assertFalse(first.metrics().isEmpty(), "the evaluator returned no metric");
            for (Map.Entry<String, Double> metric : first.metrics().entrySet()) {
                assertTrue(Double.isFinite(metric.getValue()), metric.getKey() + " = " + metric.getValue());
                // The characters MLflow accepts in a metric name, so names are the same in every store.
                assertTrue(metric.getKey().matches("[A-Za-z0-9_./: -]+"),
                        "metric names use letters, digits, spaces and _ . / : - only (MLflow refuses others, e.g. '@'): "
                                + metric.getKey());
            }
            assertEquals(first.metrics(), second.metrics(), "the same embeddings gave different metrics");
            for (Path artifact : first.artifacts()) {
                assertTrue(Files.isRegularFile(artifact), "artifact " + artifact + " does not exist");
                // The host logs artifacts by their path below the directory it gave.
                assertTrue(artifact.toAbsolutePath().normalize().startsWith(context.artifactDir().toAbsolutePath().normalize()),
                        "artifact " + artifact + " is not under the context's artifactDir() " + context.artifactDir());
            }
        }
    }
}
