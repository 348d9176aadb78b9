package dev.modalign.core.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.TowerOutput;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Times a retrieval evaluator on N x N random embeddings, beside the matrix products it is made of:
 * the same N x D by D x N product computed in the same blocks of rows, with nothing else done, once
 * (one direction) and twice (each direction on its own). The scores are the same seen from either
 * tower, so an evaluator that ranks both directions from one product can go below the second; the
 * first is the least any evaluator needs, and how close it gets is its overhead for ranking.
 */
final class RetrievalBenchmark {

    /**
     * @param evaluatorSeconds the evaluator's wall time on both directions
     * @param evaluatorPeakBytes the process's peak resident memory during it
     * @param oneDirectionSeconds the blocked product alone, first tower's queries against the second's
     * @param gemmSeconds the blocked products alone, both directions (each computed on its own)
     * @param gemmPeakBytes the peak during those
     * @param metrics what the evaluator returned (near chance on random embeddings)
     */
    record Result(double evaluatorSeconds, long evaluatorPeakBytes, double oneDirectionSeconds, double gemmSeconds,
            long gemmPeakBytes,
            java.util.Map<String, Double> metrics) {}

    private RetrievalBenchmark() {}

    static Result run(Evaluator evaluator, List<String> towers, int records, int dim, int blockSize, Device device,
            long seed) {
        try (NDManager manager = NDManager.newBaseManager(device)) {
            manager.getEngine().setRandomSeed((int) seed);
            NDArray first = manager.randomNormal(new Shape(records, dim));
            NDArray second = manager.randomNormal(new Shape(records, dim));
            List<String> groups = new ArrayList<>(records);
            for (int i = 0; i < records; i++) {
                groups.add(Integer.toString(i));
            }
            PeakMemory.reset();
            long started = System.nanoTime();
            EvalResult result;
            try (NDManager scope = manager.newSubManager()) {
                result = evaluator.evaluate(new Context(towers, first, second, groups, scope));
            }
            double evaluatorSeconds = (System.nanoTime() - started) / 1e9;
            long evaluatorPeak = PeakMemory.peakBytes();

            PeakMemory.reset();
            started = System.nanoTime();
            blockedProducts(first, second, blockSize, manager);
            double oneDirectionSeconds = (System.nanoTime() - started) / 1e9;
            blockedProducts(second, first, blockSize, manager);
            double gemmSeconds = (System.nanoTime() - started) / 1e9;
            return new Result(evaluatorSeconds, evaluatorPeak, oneDirectionSeconds, gemmSeconds, PeakMemory.peakBytes(),
                    result.metrics());
        }
    }

    /** queries x gallery^T, {@code blockSize} query rows at a time, each block's product discarded. */
    private static void blockedProducts(NDArray queries, NDArray gallery, int blockSize, NDManager manager) {
        long rows = queries.getShape().get(0);
        try (NDManager scope = manager.newSubManager()) {
            scope.tempAttachAll(queries, gallery);
            NDArray transposed = gallery.transpose();
            for (long start = 0; start < rows; start += blockSize) {
                try (NDManager block = scope.newSubManager()) {
                    block.tempAttachAll(queries, transposed);
                    NDArray product = queries.get(new NDIndex("{}:{}", start, Math.min(rows, start + blockSize)))
                            .matMul(transposed);
                    product.getFloat(0, 0);
                }
            }
        }
    }

    private record Context(List<String> towers, NDArray first, NDArray second, List<String> groupIds, NDManager manager)
            implements EvalContext {

        @Override
        public NDArray embeddings(String tower) {
            if (tower.equals(towers.get(0))) {
                return first;
            }
            if (tower.equals(towers.get(1))) {
                return second;
            }
            throw new IllegalArgumentException("no tower '" + tower + "'; towers: " + towers);
        }

        @Override
        public Optional<TowerOutput> tokenOutputs(String tower) {
            return Optional.empty();
        }

        @Override
        public Optional<NDArray> labels() {
            return Optional.empty();
        }

        @Override
        public Path artifactDir() {
            return Path.of(System.getProperty("java.io.tmpdir"));
        }
    }
}
