package dev.modalign.plugins.retrieval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cross-modal retrieval between two towers, in both directions: each record's embedding in one tower
 * is a query, and the other tower's embeddings of all records are the gallery, ranked by cosine
 * similarity.
 *
 * <p>A gallery item is a positive of a query when the two records share a group id ({@link
 * EvalContext#groupIds()}): records of one group are the same item (an image with several captions)
 * or have identical content, so retrieving any of them is a hit. The rank of a query is
 * {@code 1 + the number of non-positives scoring at least as high as its best positive}. Ties count
 * against the query, so a collapsed model whose embeddings are all equal ranks every query last
 * rather than getting credit for an arbitrary tie-break.
 *
 * <p>Metrics, for towers A and B (first and second): {@code A_to_B/R_at_k} for each k (the fraction of
 * queries with rank at most k), {@code A_to_B/MRR} (the mean of 1 / rank), {@code A_to_B/mAP} (the
 * mean over queries of the average precision over all of the query's positives) and {@code
 * A_to_B/chance_R_at_1} (the R@1 a random ranking would get in expectation: the mean over queries of
 * positives / gallery size), and the same for {@code B_to_A}.
 *
 * <p>Average precision ("Introduction to Information Retrieval", Manning, Raghavan and Schütze, 2008,
 * Section 8.4): a query with P positives, whose j-th best positive (j = 1..P) has rank r_j in the
 * gallery, has AP = (1/P) sum_j j / r_j, the precision at each positive averaged. Ties count against
 * the query here too: r_j = j + the number of non-positives scoring at least as high as that positive,
 * so with one positive AP is 1 / rank and mAP equals MRR.
 *
 * <p>Memory: the similarity matrix is computed {@code block_size} query rows at a time, so at most a
 * block_size x N slice of it (and of the positive mask, and its sorted copy) exists at once: sets of
 * any size fit, 100k x 100k included, without an N x N matrix.
 */
public final class RetrievalEvaluator implements Evaluator {

    /**
     * @param k the cut-offs of recall at k
     * @param blockSize how many queries are scored at a time
     */
    public record Params(
            @Doc("Cut-offs of recall R@k: a query is a hit at k when one of its positives ranks in the top k")
            @Default("[1, 5, 10]") List<Integer> k,
            @Doc("Queries scored per block: the N x N similarity matrix is computed this many rows at a time")
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
            if (blockSize < 1) {
                throw new InvalidParamException("block_size", "must be at least 1, found " + blockSize
                        + "; a block holds block_size x N similarities");
            }
            k = List.copyOf(k);
        }
    }

    /**
     * Scores within this of the best positive count as ties. A float32 dot product of unit vectors
     * carries rounding of about 1e-7 per term, and the same pair can round differently in another
     * column of a matrix product; without a margin, equal embeddings would be ranked by rounding
     * noise instead of tying.
     */
    static final float TIE_TOLERANCE = 1e-6f;

    private final List<Integer> cutOffs;
    private final int blockSize;

    public RetrievalEvaluator(Params params, ComponentContext context) {
        requireTwoTowers(context.towers());
        this.cutOffs = params.k();
        this.blockSize = params.blockSize();
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        List<String> towers = context.towers();
        requireTwoTowers(towers);
        String first = towers.get(0);
        String second = towers.get(1);
        NDArray firstEmbeddings = context.embeddings(first);
        NDArray secondEmbeddings = context.embeddings(second);
        int records = recordCount(first, firstEmbeddings, second, secondEmbeddings, context.groupIds());

        long[] groups = groupIndices(context.groupIds());
        long[] groupSizes = new long[records];
        for (long group : groups) {
            groupSizes[(int) group]++;
        }
        Rankings firstToSecond;
        Rankings secondToFirst;
        try (NDManager scope = context.manager().newSubManager()) {
            // Lent to this scope, so that every array derived from them is closed with it.
            scope.tempAttachAll(firstEmbeddings, secondEmbeddings);
            NDArray firstUnit = unitRows(firstEmbeddings);
            NDArray secondUnit = unitRows(secondEmbeddings);
            NDArray groupArray = scope.create(groups);
            firstToSecond = rank(firstUnit, secondUnit, groups, groupArray, groupSizes, scope);
            secondToFirst = rank(secondUnit, firstUnit, groups, groupArray, groupSizes, scope);
        }

        // A random ranking puts a positive first with probability (query's group size) / N. Averaged
        // over queries that is sum over groups of size^2 / N^2, the same in both directions: each
        // ranks all N records of the other tower, and positives are symmetric.
        long sizesSquared = 0;
        for (long size : groupSizes) {
            sizesSquared += size * size;
        }
        double chance = (double) sizesSquared / ((double) records * records);

        Map<String, Double> metrics = new LinkedHashMap<>();
        putMetrics(metrics, first + "_to_" + second, firstToSecond, chance);
        putMetrics(metrics, second + "_to_" + first, secondToFirst, chance);
        return new EvalResult(metrics);
    }

    /**
     * Per query: the rank of its best positive, and its average precision.
     *
     * @param ranks 1 for a best positive ranked first
     * @param averagePrecisions in (0, 1]
     */
    private record Rankings(long[] ranks, double[] averagePrecisions) {}

    /**
     * Ranks the gallery for every query. Queries and gallery are unit rows [N, D]; row i of both
     * belongs to record i, whose group is groups[i], of groupSizes[groups[i]] records.
     *
     * <p>Per block of queries, the positives' scores come from a top-k over the block's positive mask,
     * best first, and for each the number of non-positives scoring at least that score less {@link
     * #TIE_TOLERANCE} is counted: by one comparison pass over the block per positive when queries have
     * few positives (at most {@link #COUNTING_PASSES}), otherwise by sorting the block's non-positive
     * scores once and binary-searching each positive's threshold, so that the cost does not grow with
     * the size of the groups.
     */
    private Rankings rank(NDArray queries, NDArray gallery, long[] groups, NDArray groupArray, long[] groupSizes,
            NDManager scope) {
        int records = Math.toIntExact(queries.getShape().get(0));
        long[] ranks = new long[records];
        double[] averagePrecisions = new double[records];
        NDArray galleryTransposed = gallery.transpose();
        NDArray galleryGroups = groupArray.expandDims(0);
        NDArray negativeInfinity = scope.create(Float.NEGATIVE_INFINITY);
        int largestGroup = 0;
        for (long size : groupSizes) {
            largestGroup = (int) Math.max(largestGroup, size);
        }
        if (largestGroup <= COUNTING_PASSES) {
            rankSmallGroups(queries, galleryTransposed, groups, groupSizes, largestGroup, ranks, averagePrecisions, scope);
            return new Rankings(ranks, averagePrecisions);
        }
        for (int start = 0; start < records; start += blockSize) {
            int end = Math.min(records, start + blockSize);
            int rows = end - start;
            int mostPositives = 0;
            for (int i = start; i < end; i++) {
                mostPositives = (int) Math.max(mostPositives, groupSizes[(int) groups[i]]);
            }
            try (NDManager block = scope.newSubManager()) {
                block.tempAttachAll(queries, galleryTransposed, groupArray, galleryGroups, negativeInfinity);
                NDIndex blockRows = new NDIndex("{}:{}", start, end);
                NDArray similarity = queries.get(blockRows).matMul(galleryTransposed);
                NDArray positive = groupArray.get(blockRows).expandDims(1).eq(galleryGroups);
                NDArray notPositive = positive.logicalNot();
                NDArray positiveScores = NDArrays.where(positive, similarity, negativeInfinity)
                        .topK(mostPositives, 1, true, true).get(0);
                NDArray sortedNegatives = mostPositives > COUNTING_PASSES ? sortedNegatives(similarity, notPositive) : null;
                // Positives' columns a chunk at a time, so the Java arrays stay small whatever the group sizes.
                int chunk = Math.max(1, Math.min(mostPositives, (1 << 20) / rows));
                for (int first = 0; first < mostPositives; first += chunk) {
                    int last = Math.min(mostPositives, first + chunk);
                    NDArray chunkScores = positiveScores.get(new NDIndex(":, {}:{}", first, last));
                    long[] outranking = sortedNegatives == null
                            ? nonPositivesAtLeastByPasses(similarity, notPositive, chunkScores)
                            : nonPositivesAtLeastBySearch(sortedNegatives, chunkScores);
                    for (int r = 0; r < rows; r++) {
                        int query = start + r;
                        long positives = groupSizes[(int) groups[query]];
                        for (int c = 0; c < last - first && first + c < positives; c++) {
                            long j = first + c + 1;
                            long rank = j + outranking[r * (last - first) + c];
                            if (j == 1) {
                                ranks[query] = rank;
                            }
                            averagePrecisions[query] += (double) j / rank / positives;
                        }
                    }
                }
            }
        }
        return new Rankings(ranks, averagePrecisions);
    }

    /**
     * {@link #rank} where no group has more than {@link #COUNTING_PASSES} records (one positive per
     * query, as in paired image-text data): the block's only passes over its [rows, N] similarities
     * are the product and, per positive, one comparison counted on the device. The positives' scores
     * are gathered from the block at their known columns ([rows, group size], read back: the only host
     * copy besides the counts), sorted best first on the host; the non-positives at least as high as a
     * positive are all those at least as high less the positives at least as high, which the host
     * counts from the same float32 values. The same ranks as the general path, without its mask,
     * masked copy and top-k over the whole block.
     */
    private void rankSmallGroups(NDArray queries, NDArray galleryTransposed, long[] groups, long[] groupSizes,
            int largestGroup, long[] ranks, double[] averagePrecisions, NDManager scope) {
        int records = groups.length;
        int[][] members = new int[groupSizes.length][];
        int[] filled = new int[groupSizes.length];
        for (int g = 0; g < groupSizes.length; g++) {
            members[g] = new int[(int) groupSizes[g]];
        }
        for (int i = 0; i < records; i++) {
            int g = (int) groups[i];
            members[g][filled[g]++] = i;
        }
        for (int start = 0; start < records; start += blockSize) {
            int end = Math.min(records, start + blockSize);
            int rows = end - start;
            // Each query's positives' columns, padded with its first positive (ignored below).
            long[] columns = new long[rows * largestGroup];
            for (int r = 0; r < rows; r++) {
                int[] group = members[(int) groups[start + r]];
                for (int c = 0; c < largestGroup; c++) {
                    columns[r * largestGroup + c] = group[Math.min(c, group.length - 1)];
                }
            }
            try (NDManager block = scope.newSubManager()) {
                block.tempAttachAll(queries, galleryTransposed);
                NDArray similarity = queries.get(new NDIndex("{}:{}", start, end)).matMul(galleryTransposed);
                float[] gathered = similarity.gather(block.create(columns, new Shape(rows, largestGroup)), 1)
                        .toFloatArray();
                float[][] positives = new float[rows][];
                for (int r = 0; r < rows; r++) {
                    int count = members[(int) groups[start + r]].length;
                    float[] scores = java.util.Arrays.copyOfRange(gathered, r * largestGroup, r * largestGroup + count);
                    java.util.Arrays.sort(scores); // ascending; read from the end, best first
                    positives[r] = scores;
                }
                for (int c = 0; c < largestGroup; c++) {
                    float[] thresholds = new float[rows];
                    for (int r = 0; r < rows; r++) {
                        float[] scores = positives[r];
                        // s - TIE_TOLERANCE in float32, as the device's subtraction of the general path rounds it.
                        thresholds[r] = c < scores.length ? scores[scores.length - 1 - c] - TIE_TOLERANCE
                                : Float.POSITIVE_INFINITY;
                    }
                    long[] atLeast;
                    try (NDManager pass = block.newSubManager()) {
                        pass.tempAttachAll(similarity);
                        atLeast = similarity.gte(pass.create(thresholds, new Shape(rows, 1))).sum(new int[] {1})
                                .toType(DataType.INT64, false).toLongArray();
                    }
                    for (int r = 0; r < rows; r++) {
                        float[] scores = positives[r];
                        if (c >= scores.length) {
                            continue;
                        }
                        long positivesAtLeast = 0;
                        for (float score : scores) {
                            if (score >= thresholds[r]) {
                                positivesAtLeast++;
                            }
                        }
                        int query = start + r;
                        long j = c + 1;
                        long rank = j + atLeast[r] - positivesAtLeast;
                        if (j == 1) {
                            ranks[query] = rank;
                        }
                        averagePrecisions[query] += (double) j / rank / scores.length;
                    }
                }
            }
        }
    }

    /**
     * Queries with at most this many positives are counted by one pass over the block per positive;
     * beyond, sorting the block once is cheaper (a sort costs about as much as 15 passes on CPU).
     */
    static final int COUNTING_PASSES = 16;

    /**
     * For each positive score s in {@code positiveScores} [rows, columns] (negative infinity where a
     * query has no such positive), the number of the query's non-positives scoring at least {@code
     * s - TIE_TOLERANCE}, in float32 as the rank of R@k compares: one pass over the block's
     * similarities [rows, N] per column. Row-major [rows, columns].
     */
    static long[] nonPositivesAtLeastByPasses(NDArray similarity, NDArray notPositive, NDArray positiveScores) {
        int rows = Math.toIntExact(positiveScores.getShape().get(0));
        int columns = Math.toIntExact(positiveScores.getShape().get(1));
        long[] counts = new long[rows * columns];
        for (int c = 0; c < columns; c++) {
            try (NDManager pass = similarity.getManager().newSubManager()) {
                pass.tempAttachAll(similarity, notPositive, positiveScores);
                NDArray threshold = positiveScores.get(new NDIndex(":, {}:{}", c, c + 1)).sub(TIE_TOLERANCE);
                long[] column = similarity.gte(threshold).logicalAnd(notPositive).toType(DataType.INT64, false)
                        .sum(new int[] {1}).toLongArray();
                for (int r = 0; r < rows; r++) {
                    counts[r * columns + c] = column[r];
                }
            }
        }
        return counts;
    }

    /** Each row's non-positive scores negated and sorted ascending, positives moved to the end as +infinity. */
    static NDArray sortedNegatives(NDArray similarity, NDArray notPositive) {
        NDArray infinity = similarity.getManager().create(Float.POSITIVE_INFINITY);
        // (where() takes the full-shape array first and broadcasts only the second.)
        return NDArrays.where(notPositive, similarity.neg(), infinity).sort(1);
    }

    /**
     * What {@link #nonPositivesAtLeastByPasses} counts, from {@link #sortedNegatives}: the count of
     * entries at most {@code -(s - TIE_TOLERANCE)} in the row, by a binary search for all positives
     * at once, one {@code gather} per halving. The threshold is rounded to float32 as the passes'
     * comparison is, so both count the same.
     */
    static long[] nonPositivesAtLeastBySearch(NDArray sortedNegatives, NDArray positiveScores) {
        int rows = Math.toIntExact(positiveScores.getShape().get(0));
        int columns = Math.toIntExact(positiveScores.getShape().get(1));
        float[] scores = positiveScores.toFloatArray();
        int gallerySize = Math.toIntExact(sortedNegatives.getShape().get(1));
        int n = rows * columns;
        float[] thresholds = new float[n];
        long[] low = new long[n];
        long[] high = new long[n];
        for (int p = 0; p < n; p++) {
            thresholds[p] = -(scores[p] - TIE_TOLERANCE);
            high[p] = gallerySize;
        }
        long[] middle = new long[n];
        boolean searching = true;
        while (searching) {
            searching = false;
            for (int p = 0; p < n; p++) {
                middle[p] = low[p] < high[p] ? (low[p] + high[p]) >>> 1 : Math.min(low[p], gallerySize - 1);
            }
            float[] values;
            try (NDManager step = sortedNegatives.getManager().newSubManager()) {
                step.tempAttachAll(sortedNegatives);
                values = sortedNegatives.gather(step.create(middle, new Shape(rows, columns)), 1).toFloatArray();
            }
            for (int p = 0; p < n; p++) {
                if (low[p] < high[p]) {
                    if (values[p] <= thresholds[p]) {
                        low[p] = middle[p] + 1;
                    } else {
                        high[p] = middle[p];
                    }
                    searching |= low[p] < high[p];
                }
            }
        }
        return low;
    }

    private void putMetrics(Map<String, Double> metrics, String direction, Rankings rankings, double chance) {
        long[] ranks = rankings.ranks();
        for (int cutOff : cutOffs) {
            long hits = 0;
            for (long rank : ranks) {
                if (rank <= cutOff) {
                    hits++;
                }
            }
            metrics.put(direction + "/R_at_" + cutOff, (double) hits / ranks.length);
        }
        double reciprocalRanks = 0;
        for (long rank : ranks) {
            reciprocalRanks += 1.0 / rank;
        }
        metrics.put(direction + "/MRR", reciprocalRanks / ranks.length);
        double averagePrecisions = 0;
        for (double averagePrecision : rankings.averagePrecisions()) {
            averagePrecisions += averagePrecision;
        }
        metrics.put(direction + "/mAP", averagePrecisions / ranks.length);
        metrics.put(direction + "/chance_R_at_1", chance);
    }

    private static NDArray unitRows(NDArray embeddings) {
        NDArray values = embeddings.toType(DataType.FLOAT32, false);
        return Scalars.normalise(values);
    }

    /** Group ids as dense indices 0, 1, ... in order of first appearance. */
    private static long[] groupIndices(List<String> groupIds) {
        Map<String, Long> indices = new HashMap<>();
        long[] groups = new long[groupIds.size()];
        for (int i = 0; i < groups.length; i++) {
            groups[i] = indices.computeIfAbsent(groupIds.get(i), id -> (long) indices.size());
        }
        return groups;
    }

    private static int recordCount(String first, NDArray firstEmbeddings, String second, NDArray secondEmbeddings,
            List<String> groupIds) {
        Shape firstShape = firstEmbeddings.getShape();
        Shape secondShape = secondEmbeddings.getShape();
        if (firstShape.dimension() != 2 || secondShape.dimension() != 2) {
            throw new IllegalArgumentException("retrieval needs embeddings [N, D]; found " + first + " " + firstShape
                    + " and " + second + " " + secondShape);
        }
        if (firstShape.get(0) != secondShape.get(0)) {
            throw new IllegalArgumentException("retrieval pairs row i of both towers, but " + first + " has "
                    + firstShape.get(0) + " rows and " + second + " has " + secondShape.get(0));
        }
        if (firstShape.get(1) != secondShape.get(1)) {
            throw new IllegalArgumentException("cosine similarity needs one embedding size, but " + first + " has "
                    + firstShape.get(1) + " and " + second + " has " + secondShape.get(1)
                    + "; give both encoders the same embed_dim");
        }
        if (firstShape.get(0) == 0) {
            throw new IllegalArgumentException("retrieval needs at least one evaluation record, found none");
        }
        if (groupIds.size() != firstShape.get(0)) {
            throw new IllegalArgumentException("the evaluation set has " + firstShape.get(0) + " rows of embeddings but "
                    + groupIds.size() + " group ids");
        }
        return Math.toIntExact(firstShape.get(0));
    }

    private static void requireTwoTowers(List<String> towers) {
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "retrieval runs between exactly two towers, found " + towers
                    + "; name the query and gallery towers, e.g. [image, text]");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "retrieval runs between two different towers, found " + towers
                    + "; against itself every query finds its own record");
        }
    }
}
