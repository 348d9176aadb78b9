package dev.modalign.core.compose;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.InputSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The {@link ComponentContext} a run gives each component. */
record RunContext(long seed, List<String> towers, Map<String, Integer> embedDims, InputSpec inputSpec, Path cacheDir,
        Path baseDir) implements ComponentContext {

    @Override
    public int embedDim(String tower) {
        Integer dim = embedDims.get(tower);
        if (dim == null) {
            throw new IllegalArgumentException("no tower '" + tower + "'; towers: " + embedDims.keySet());
        }
        return dim;
    }

    @Override
    public InputSpec input() {
        if (inputSpec == null) {
            throw new IllegalStateException("only encoders are given an input spec");
        }
        return inputSpec;
    }
}
