package dev.modalign.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.EvalContext;
import dev.modalign.api.TowerOutput;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;

/** The evaluation set encoded once by every tower, handed to each evaluator with its own towers. */
record RunEvalContext(List<String> towers, Map<String, NDArray> encoded, Map<String, TowerOutput> tokenOutputs,
        NDArray labelArray, List<String> groupIds, Map<String, List<Object>> raw,
        NDManager manager, Path artifactDir, long seed, BiFunction<String, List<?>, NDArray> encoder)
        implements EvalContext {

    @Override
    public NDArray encode(String tower, List<?> rawValues) {
        return encoder.apply(tower, rawValues);
    }

    @Override
    public List<Object> rawValues(String tower) {
        List<Object> values = raw.get(tower);
        if (values == null) {
            throw new IllegalArgumentException("no raw values of tower '" + tower + "'; towers: " + raw.keySet());
        }
        return values;
    }

    @Override
    public NDArray embeddings(String tower) {
        NDArray embeddings = encoded.get(tower);
        if (embeddings == null) {
            throw new IllegalArgumentException("no tower '" + tower + "'; towers: " + encoded.keySet());
        }
        return embeddings;
    }

    @Override
    public Optional<TowerOutput> tokenOutputs(String tower) {
        return Optional.ofNullable(tokenOutputs.get(tower));
    }

    @Override
    public Optional<NDArray> labels() {
        return Optional.ofNullable(labelArray);
    }
}
