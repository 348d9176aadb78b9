package dev.modalign.plugins.modalitydropout;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Scalars;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a model of N towers loses when a modality is missing at test time, the evaluation of "MMG-Ego4D:
 * Multi-Modal Generalization in Egocentric Action Recognition" (Gong et al., CVPR 2023): every measure is
 * taken with all towers and again with each tower missing, and the difference is the drop.
 *
 * <p>Several towers are combined by fusing their embeddings: the mean of the towers' L2-normalised
 * embeddings, compared by cosine similarity (late fusion, which needs no trained fusion network and
 * works for any subset).
 *
 * <ul>
 *   <li>Retrieval, for every target tower t: the queries fuse the other towers, the gallery is t's
 *       embeddings of every record, and a gallery item is a hit when it shares the query's group id (as in
 *       the retrieval evaluator: rank = 1 + the non-positives scoring at least as high as the best
 *       positive, ties against the query). {@code to_<t>/all/R_at_k} and {@code MRR} use all other
 *       towers; {@code to_<t>/without_<m>/...} leaves tower m out too (where a tower is left to query
 *       with), and {@code to_<t>/without_<m>/drop_R_at_k} and {@code drop_MRR} are all minus without.
 *       {@code retrieval/all/...} averages over every target and {@code retrieval/without_<m>/...} over the
 *       targets other than m, so read a missing tower's cost from its drop, which pairs each target with
 *       itself, rather than by setting the two averages side by side.</li>
 *   <li>Classification, where the records have labels: a leave-one-group-out k-nearest-neighbour vote
 *       on the fused embeddings of all towers ({@code classify/all/accuracy}) and of all but m ({@code
 *       classify/without_<m>/accuracy}, {@code classify/without_<m>/drop}). Records of the query's own
 *       group are not neighbours: they are the same item (one image with several spoken captions). A
 *       vote is won by the most neighbours, a tie by the larger summed similarity, then the smaller
 *       label.</li>
 * </ul>
 *
 * <p>Memory: similarities are computed {@code block_size} query rows at a time.
 */
public final class MissingModalityEvaluator implements Evaluator {

    /**
     * @param k the cut-offs of recall at k
     * @param knn the neighbours that vote in classification
     * @param blockSize how many queries are scored at a time
     */
    public record Params(
            @Doc("Cut-offs of recall R@k for retrieval with all towers and with each missing") @Default("[1, 5, 10]")
            List<Integer> k,
            @Doc("Neighbours that vote in the leave-one-group-out kNN classification (where records have labels)")
            @Default("5") int knn,
            @Doc("Queries scored per block: the N x N similarities are computed this many rows at a time")
            @Default("1024") int blockSize) {

        public Params {
            if (k == null || k.isEmpty()) {
                throw new InvalidParamException("k", "must name at least one cut-off, found " + k + "; e.g. [1, 5, 10]");
            }
            for (Integer cutOff : k) {
                if (cutOff == null || cutOff < 1) {
                    throw new InvalidParamException("k", "every cut-off must be at least 1, found " + cutOff + " in " + k);
                }
            }
            if (new HashSet<>(k).size() != k.size()) {
                throw new InvalidParamException("k", "cut-offs must differ, found " + k + "; list each once");
            }
            if (knn < 1) {
                throw new InvalidParamException("knn", "must be at least 1, found " + knn);
            }
            if (blockSize < 1) {
                throw new InvalidParamException("block_size", "must be at least 1, found " + blockSize);
            }
            k = List.copyOf(k);
        }
    }

    /** Scores within this of the best positive count as ties, as in the retrieval evaluator (float32 rounding). */
    static final float TIE_TOLERANCE = 1e-6f;

    private static final String NAME = "missing-modality";

    private final List<Integer> cutOffs;
    private final int knn;
    private final int blockSize;

    public MissingModalityEvaluator(Params params, ComponentContext context) {
        requireTowers(context.towers());
        this.cutOffs = params.k();
        this.knn = params.knn();
        this.blockSize = params.blockSize();
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        List<String> towers = context.towers();
        requireTowers(towers);
        // Sums over the targets of each condition's retrieval metrics ("all", "without_<m>"), and how many.
        Map<String, Map<String, Double>> retrievalSums = new LinkedHashMap<>();
        Map<String, Integer> retrievalCounts = new HashMap<>();
        Map<String, Double> metrics = new LinkedHashMap<>();
        try (NDManager scope = context.manager().newSubManager()) {
            Map<String, NDArray> units = new LinkedHashMap<>();
            long rows = -1;
            long dim = -1;
            for (String tower : towers) {
                NDArray embeddings = context.embeddings(tower);
                Shape shape = embeddings.getShape();
                if (shape.dimension() != 2 || shape.get(0) == 0 || (rows >= 0 && (shape.get(0) != rows
                        || shape.get(1) != dim))) {
                    throw new IllegalArgumentException(NAME + " fuses the towers' embeddings row by row, so they must"
                            + " all be [N, D] with the same N > 0 and D; found " + tower + " " + shape + " after "
                            + rows + " x " + dim + "; give every encoder the same embed_dim");
                }
                rows = shape.get(0);
                dim = shape.get(1);
                scope.tempAttachAll(embeddings);
                units.put(tower, Scalars.normalise(embeddings.toType(DataType.FLOAT32, false)));
            }
            List<String> groupIds = context.groupIds();
            if (groupIds.size() != rows) {
                throw new IllegalArgumentException("the evaluation set has " + rows + " rows of embeddings but "
                        + groupIds.size() + " group ids");
            }
            int[] groups = groupIndices(groupIds);

            for (String target : towers) {
                List<String> others = new ArrayList<>(towers);
                others.remove(target);
                Map<String, Double> all = retrievalMetrics(fuse(units, others), units.get(target), groups, scope);
                put(metrics, "to_" + target + "/all/", all);
                accumulate(retrievalSums, retrievalCounts, "all", all);
                for (String missing : others) {
                    List<String> rest = new ArrayList<>(others);
                    rest.remove(missing);
                    if (rest.isEmpty()) {
                        continue;
                    }
                    Map<String, Double> without = new LinkedHashMap<>(
                            retrievalMetrics(fuse(units, rest), units.get(target), groups, scope));
                    Map<String, Double> drops = new LinkedHashMap<>();
                    without.forEach((name, value) -> drops.put("drop_" + name, all.get(name) - value));
                    without.putAll(drops);
                    put(metrics, "to_" + target + "/without_" + missing + "/", without);
                    accumulate(retrievalSums, retrievalCounts, "without_" + missing, without);
                }
            }
            retrievalSums.forEach((condition, sums) -> sums.forEach((name, sum) ->
                    metrics.put("retrieval/" + condition + "/" + name, sum / retrievalCounts.get(condition))));

            Optional<NDArray> labels = context.labels();
            if (labels.isPresent()) {
                long[] classes = labels.get().toLongArray();
                double all = accuracy(fuse(units, towers), classes, groups, scope);
                metrics.put("classify/all/accuracy", all);
                for (String missing : towers) {
                    List<String> rest = new ArrayList<>(towers);
                    rest.remove(missing);
                    double without = accuracy(fuse(units, rest), classes, groups, scope);
                    metrics.put("classify/without_" + missing + "/accuracy", without);
                    metrics.put("classify/without_" + missing + "/drop", all - without);
                }
            }
        }
        return new EvalResult(metrics);
    }

    private static void accumulate(Map<String, Map<String, Double>> sums, Map<String, Integer> counts,
            String condition, Map<String, Double> values) {
        Map<String, Double> conditionSums = sums.computeIfAbsent(condition, c -> new LinkedHashMap<>());
        values.forEach((name, value) -> conditionSums.merge(name, value, Double::sum));
        counts.merge(condition, 1, Integer::sum);
    }

    private static void put(Map<String, Double> metrics, String prefix, Map<String, Double> values) {
        values.forEach((name, value) -> metrics.put(prefix + name, value));
    }

    /** The unit-length mean of the towers' unit embeddings, [N, D]. */
    private static NDArray fuse(Map<String, NDArray> units, List<String> towers) {
        NDArray sum = null;
        for (String tower : towers) {
            sum = sum == null ? units.get(tower) : sum.add(units.get(tower));
        }
        return towers.size() == 1 ? sum : Scalars.normalise(sum);
    }

    /** R@k for each cut-off and MRR of retrieving each query's group from the gallery. */
    private Map<String, Double> retrievalMetrics(NDArray queries, NDArray gallery, int[] groups, NDManager scope) {
        int records = groups.length;
        long[] ranks = new long[records];
        forEachBlock(queries, gallery, scope, (start, block, similarities) -> {
            for (int r = 0; r < block; r++) {
                int query = start + r;
                int offset = r * records;
                float best = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < records; j++) {
                    if (groups[j] == groups[query]) {
                        best = Math.max(best, similarities[offset + j]);
                    }
                }
                long outranking = 0;
                for (int j = 0; j < records; j++) {
                    if (groups[j] != groups[query] && similarities[offset + j] >= best - TIE_TOLERANCE) {
                        outranking++;
                    }
                }
                ranks[query] = outranking + 1;
            }
        });
        Map<String, Double> metrics = new LinkedHashMap<>();
        for (int cutOff : cutOffs) {
            long hits = 0;
            for (long rank : ranks) {
                hits += rank <= cutOff ? 1 : 0;
            }
            metrics.put("R_at_" + cutOff, (double) hits / records);
        }
        double reciprocal = 0;
        for (long rank : ranks) {
            reciprocal += 1.0 / rank;
        }
        metrics.put("MRR", reciprocal / records);
        return metrics;
    }

    /**
     * The accuracy of a k-nearest-neighbour vote among the records of other groups, over the records that
     * have any; 0 when none has.
     */
    private double accuracy(NDArray fused, long[] labels, int[] groups, NDManager scope) {
        int records = groups.length;
        int[] correct = new int[1];
        int[] voted = new int[1];
        forEachBlock(fused, fused, scope, (start, block, similarities) -> {
            for (int r = 0; r < block; r++) {
                int query = start + r;
                int offset = r * records;
                List<Integer> candidates = new ArrayList<>();
                for (int j = 0; j < records; j++) {
                    if (groups[j] != groups[query]) {
                        candidates.add(j);
                    }
                }
                if (candidates.isEmpty()) {
                    continue;
                }
                // Most similar first, equal similarities in index order (the sort is stable).
                candidates.sort((x, y) -> Float.compare(similarities[offset + y], similarities[offset + x]));
                Map<Long, int[]> votes = new HashMap<>();
                Map<Long, Double> weights = new HashMap<>();
                for (int n = 0; n < Math.min(knn, candidates.size()); n++) {
                    int j = candidates.get(n);
                    votes.computeIfAbsent(labels[j], label -> new int[1])[0]++;
                    weights.merge(labels[j], (double) similarities[offset + j], Double::sum);
                }
                long winner = votes.keySet().stream().min((x, y) -> {
                    int byVotes = Integer.compare(votes.get(y)[0], votes.get(x)[0]);
                    if (byVotes != 0) {
                        return byVotes;
                    }
                    int byWeight = Double.compare(weights.get(y), weights.get(x));
                    return byWeight != 0 ? byWeight : Long.compare(x, y);
                }).orElseThrow();
                voted[0]++;
                correct[0] += winner == labels[query] ? 1 : 0;
            }
        });
        return voted[0] == 0 ? 0 : (double) correct[0] / voted[0];
    }

    /** What to do with the similarities [block, N] of queries start .. start + block - 1 to the whole gallery. */
    private interface BlockConsumer {
        void accept(int start, int block, float[] similarities);
    }

    private void forEachBlock(NDArray queries, NDArray gallery, NDManager scope, BlockConsumer consumer) {
        int records = Math.toIntExact(queries.getShape().get(0));
        for (int start = 0; start < records; start += blockSize) {
            int end = Math.min(records, start + blockSize);
            try (NDManager block = scope.newSubManager()) {
                // Lent to the block once each: lending one array twice would hand it back to the closed block.
                if (queries == gallery) {
                    block.tempAttachAll(queries);
                } else {
                    block.tempAttachAll(queries, gallery);
                }
                float[] similarities = queries.get(new NDIndex("{}:{}", start, end)).matMul(gallery.transpose())
                        .toFloatArray();
                consumer.accept(start, end - start, similarities);
            }
        }
    }

    /** Group ids as dense indices 0, 1, ... in order of first appearance. */
    private static int[] groupIndices(List<String> groupIds) {
        Map<String, Integer> indices = new HashMap<>();
        int[] groups = new int[groupIds.size()];
        for (int i = 0; i < groups.length; i++) {
            groups[i] = indices.computeIfAbsent(groupIds.get(i), id -> indices.size());
        }
        return groups;
    }

    private static void requireTowers(List<String> towers) {
        if (towers.size() < 2 || new HashSet<>(towers).size() != towers.size()) {
            throw new InvalidParamException("towers", NAME + " needs at least two different towers (three or more to"
                    + " leave one out of a fused query), found " + towers + "; e.g. [image, audio, text]");
        }
    }
}
