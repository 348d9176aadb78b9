package dev.modalign.testkit;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.InputSpec;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A {@link ComponentContext} for tests, built with the few facts a component needs. */
public final class TestContext implements ComponentContext {

    private final long seed;
    private final List<String> towers;
    private final Map<String, Integer> embedDims;
    private final InputSpec input;
    private final Path cacheDir;
    private final Path baseDir;

    private TestContext(Builder builder) {
        this.seed = builder.seed;
        this.towers = List.copyOf(builder.towers);
        this.embedDims = Map.copyOf(builder.embedDims);
        this.input = builder.input;
        this.cacheDir = builder.cacheDir;
        this.baseDir = builder.baseDir;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public long seed() {
        return seed;
    }

    @Override
    public List<String> towers() {
        return towers;
    }

    @Override
    public int embedDim(String tower) {
        Integer dim = embedDims.get(tower);
        if (dim == null) {
            throw new IllegalArgumentException("test context has no embedding size for tower '" + tower + "'");
        }
        return dim;
    }

    @Override
    public InputSpec input() {
        return input; // null unless set with optInput, as for a component outside a tower
    }

    @Override
    public Path cacheDir() {
        return cacheDir;
    }

    @Override
    public Path baseDir() {
        return baseDir;
    }

    /** Builds a {@link TestContext}; every setting is optional. */
    public static final class Builder {
        private long seed = 7;
        private List<String> towers = List.of();
        private final Map<String, Integer> embedDims = new LinkedHashMap<>();
        private InputSpec input;
        private Path cacheDir = Path.of(System.getProperty("java.io.tmpdir"), "modalign-test-cache");
        private Path baseDir = Path.of(".");

        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** The towers, each with the same embedding size. */
        public Builder optTowers(List<String> towers, int embedDim) {
            this.towers = towers;
            towers.forEach(t -> embedDims.put(t, embedDim));
            return this;
        }

        /** The towers, whose embedding sizes {@link #optEmbedDims} gives. */
        public Builder optTowers(List<String> towers) {
            this.towers = towers;
            return this;
        }

        /**
         * Embedding sizes by tower, replacing any given before: towers of the run that are not the
         * component's own (a teacher, a view, a tower of labels), or towers of different sizes.
         */
        public Builder optEmbedDims(Map<String, Integer> embedDims) {
            this.embedDims.putAll(embedDims);
            return this;
        }

        public Builder optInput(InputSpec input) {
            this.input = input;
            return this;
        }

        public Builder optCacheDir(Path cacheDir) {
            this.cacheDir = cacheDir;
            return this;
        }

        public Builder optBaseDir(Path baseDir) {
            this.baseDir = baseDir;
            return this;
        }

        public TestContext build() {
            return new TestContext(this);
        }
    }
}
