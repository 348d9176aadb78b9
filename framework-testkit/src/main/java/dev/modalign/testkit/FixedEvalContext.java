package dev.modalign.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.EvalContext;
import dev.modalign.api.TowerOutput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;

/** An {@link EvalContext} over given embeddings, for evaluator tests. */
public final class FixedEvalContext implements EvalContext {

    private final NDManager manager;
    private final Map<String, NDArray> embeddings = new LinkedHashMap<>();
    private final Map<String, TowerOutput> tokenOutputs = new LinkedHashMap<>();
    private List<String> towers;
    private List<String> groupIds;
    private NDArray labels;
    private Path artifactDir;
    private BiFunction<String, List<?>, NDArray> encoder;
    private long seed;
    private final Map<String, List<Object>> raw = new LinkedHashMap<>();

    public FixedEvalContext(NDManager manager) {
        this.manager = manager;
    }

    /** Adds a tower with embeddings given row by row. */
    public FixedEvalContext tower(String name, float[][] rows) {
        embeddings.put(name, manager.create(rows));
        return this;
    }

    public FixedEvalContext tower(String name, NDArray rows) {
        embeddings.put(name, rows);
        return this;
    }

    /**
     * Gives a tower token features [N, T, D] and their mask [N, T] (1 for real tokens), for evaluators
     * that read {@link #tokenOutputs}; add its embeddings first.
     */
    public FixedEvalContext tokens(String name, NDArray tokens, NDArray mask) {
        tokenOutputs.put(name, new TowerOutput(embeddings(name), tokens, mask));
        return this;
    }

    /** The towers the evaluator is asked to use; defaults to all added, in order. */
    public FixedEvalContext towers(String... names) {
        this.towers = List.of(names);
        return this;
    }

    public FixedEvalContext groupIds(String... ids) {
        this.groupIds = List.of(ids);
        return this;
    }

    public FixedEvalContext labels(long... values) {
        this.labels = manager.create(values);
        return this;
    }

    /**
     * What {@link #encode} does: given a tower and the values an evaluator brings (class prompts,
     * for instance), returns their embeddings [N, D] in {@link #manager()}, as a host would with the
     * tower's modality and trained encoder.
     */
    public FixedEvalContext encoder(BiFunction<String, List<?>, NDArray> encoder) {
        this.encoder = encoder;
        return this;
    }

    /** The raw values a tower's records were decoded from (captions, for instance), for {@link #rawValues}. */
    public FixedEvalContext raw(String tower, List<?> values) {
        raw.put(tower, List.copyOf(values));
        return this;
    }

    @Override
    public List<Object> rawValues(String tower) {
        List<Object> values = raw.get(tower);
        if (values == null) {
            throw new IllegalArgumentException("no raw values of tower '" + tower + "'; give them with raw(...)");
        }
        return values;
    }

    /** The run's seed the evaluator sees; 0 unless set. */
    public FixedEvalContext seed(long seed) {
        this.seed = seed;
        return this;
    }

    @Override
    public NDArray encode(String tower, List<?> rawValues) {
        if (encoder == null) {
            throw new UnsupportedOperationException("this FixedEvalContext encodes nothing; give it an encoder(...)");
        }
        return encoder.apply(tower, rawValues);
    }

    @Override
    public long seed() {
        return seed;
    }

    @Override
    public List<String> towers() {
        return towers != null ? towers : List.copyOf(embeddings.keySet());
    }

    @Override
    public NDArray embeddings(String tower) {
        NDArray array = embeddings.get(tower);
        if (array == null) {
            throw new IllegalArgumentException("no embeddings for tower '" + tower + "'");
        }
        return array;
    }

    @Override
    public Optional<TowerOutput> tokenOutputs(String tower) {
        return Optional.ofNullable(tokenOutputs.get(tower));
    }

    @Override
    public Optional<NDArray> labels() {
        return Optional.ofNullable(labels);
    }

    @Override
    public List<String> groupIds() {
        if (groupIds != null) {
            return groupIds;
        }
        long n = embeddings.values().iterator().next().getShape().get(0);
        List<String> ids = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            ids.add(Long.toString(i));
        }
        return ids;
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public Path artifactDir() {
        if (artifactDir == null) {
            try {
                artifactDir = Files.createTempDirectory("modalign-eval");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return artifactDir;
    }
}
