package dev.modalign.testkit;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.StepContext;
import dev.modalign.api.TowerOutput;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * What a loss's own tests need around it: a loss with its parameters initialised, a batch built
 * from named embeddings, a step to compute it in, and one forward and backward pass, as the trainer
 * does them.
 */
public final class LossFixtures {

    private LossFixtures() {}

    /**
     * A loss from its factory, with every parameter not yet initialised initialised in {@code
     * parameterManager} (as the trainer does before the first step).
     */
    public static <P extends Record> Loss newLoss(ComponentFactory<P, Loss> factory, P params,
            ComponentContext context, NDManager parameterManager) {
        Loss loss = factory.create(params, context);
        for (Parameter parameter : loss.parameters()) {
            if (!parameter.isInitialized()) {
                parameter.initialize(parameterManager, DataType.FLOAT32);
            }
        }
        return loss;
    }

    /** A batch without labels in which {@code towers.get(k)} embedded {@code embeddings[k]}. */
    public static EncodedBatch batch(List<String> towers, NDArray... embeddings) {
        return batch(towers, Arrays.asList(embeddings), null);
    }

    /** A batch in which {@code towers.get(k)} embedded {@code embeddings.get(k)}; labels may be null. */
    public static EncodedBatch batch(List<String> towers, List<NDArray> embeddings, NDArray labels) {
        if (towers.size() != embeddings.size()) {
            throw new IllegalArgumentException(towers.size() + " towers " + towers + " but " + embeddings.size()
                    + " embeddings");
        }
        Map<String, NDArray> named = new LinkedHashMap<>();
        for (int k = 0; k < towers.size(); k++) {
            named.put(towers.get(k), embeddings.get(k));
        }
        return batch(named, labels);
    }

    /** A batch of the towers' embeddings, in the map's order, without token features; labels may be null. */
    public static EncodedBatch batch(Map<String, NDArray> embeddings, NDArray labels) {
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        embeddings.forEach((tower, embedding) -> towers.put(tower, new TowerOutput(embedding)));
        return new EncodedBatch(towers, labels);
    }

    /** The first training step of a one-step run, with a generator seeded 0, computing in {@code manager}. */
    public static StepContext step(NDManager manager) {
        return new StepContext(0, 0, 1, new Random(0), manager, true);
    }

    /**
     * Computes the loss with gradients recorded and back-propagates its value, so that every array
     * that required a gradient (embeddings, parameters) has one; returns the output.
     */
    public static LossOutput computeWithGradients(Loss loss, EncodedBatch batch, StepContext step) {
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            LossOutput output = loss.compute(batch, step);
            collector.backward(output.value());
            return output;
        }
    }
}
