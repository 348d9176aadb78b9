package dev.modalign.plugins.tcl;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.InputSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A run's towers as the host shows them to a loss: the loss's own towers, and the embedding size of
 * every tower of the run (the views among them).
 */
record TowersContext(List<String> towers, Map<String, Integer> embedDims) implements ComponentContext {

    @Override
    public long seed() {
        return 7;
    }

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
        return null;
    }

    @Override
    public Path cacheDir() {
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    @Override
    public Path baseDir() {
        return Path.of(".");
    }
}
