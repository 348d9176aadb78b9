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
import java.util.Arrays;
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
 * <p>Work and memory: where no group has more than {@link #COUNTING_PASSES} records (paired data,
 * one or a few captions per item), the N x N similarities are computed once for both directions, in
 * tiles of {@code block_size} rows by {@link #tileColumns} columns (4 MB of floats, 1024 x 1024 at the
 * default block_size), and each tile is counted for both directions while it is in the cache; beside
 * the tiles there is one normalised copy of the second tower's embeddings [N, D] (the first tower's
 * rows are normalised a block at a time), and what grows as N x the largest group (the positives'
 * scores, thresholds and counts). Larger groups are ranked a direction at a time, {@code block_size} query rows at a time, with at most
 * a block_size x N slice of the similarities (and of the positive mask, and its sorted copy) at once.
 * Either way sets of any size fit, 100k x 100k included, without an N x N matrix.
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
                        + "; it is the number of queries scored at a time");
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
        long largestGroup = 0;
        for (long size : groupSizes) {
            largestGroup = Math.max(largestGroup, size);
        }
        Rankings firstToSecond;
        Rankings secondToFirst;
        try (NDManager scope = context.manager().newSubManager()) {
            // Lent to this scope, so that every array derived from them is closed with it.
            scope.tempAttachAll(firstEmbeddings, secondEmbeddings);
            NDArray secondUnit = unitRows(secondEmbeddings);
            if (largestGroup <= COUNTING_PASSES) {
                BothDirections both = rankSmallGroups(firstEmbeddings, secondUnit, groups, groupSizes, (int) largestGroup,
                        scope);
                firstToSecond = both.firstToSecond();
                secondToFirst = both.secondToFirst();
            } else {
                NDArray firstUnit = unitRows(firstEmbeddings);
                NDArray groupArray = scope.create(groups);
                firstToSecond = rank(firstUnit, secondUnit, groups, groupArray, groupSizes, scope);
                secondToFirst = rank(secondUnit, firstUnit, groups, groupArray, groupSizes, scope);
            }
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
     * Ranks the gallery for every query, one direction: the general path, taken where some group has
     * more than {@link #COUNTING_PASSES} records ({@link #rankSmallGroups} otherwise). Queries and
     * gallery are unit rows [N, D]; row i of both belongs to record i, whose group is groups[i], of
     * groupSizes[groups[i]] records.
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
        for (int start = 0; start < records; start += blockSize) {
            int end = Math.min(records, start + blockSize);
            int rows = end - start;
            int mostPositives = mostPositives(groups, groupSizes, start, end);
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

    /** The rankings of both directions, from the one pass over the similarities that serves both. */
    private record BothDirections(Rankings firstToSecond, Rankings secondToFirst) {}

    /**
     * Both directions at once where no group has more than {@link #COUNTING_PASSES} records (one
     * positive per query, as in paired image-text data). Row i of both towers belongs to record i and
     * positives are symmetric, so sim(first_i, second_j) is the same score seen from either side: the
     * similarities are computed once, in tiles of {@code block_size} first-tower rows by {@link
     * #tileColumns} second-tower columns, and each tile counts for both directions while it is in the
     * cache, first to second by its row sums and second to first by its column sums. Nothing of size
     * block_size x N exists, only a tile (4 MB of floats) and its comparison; and only the second
     * tower is normalised whole ([N, D]), the first a block of rows at a time as the loop reaches it.
     *
     * <p>Each query's positives' scores are computed beforehand, as dot products of the query with its
     * group's members in the other tower (at most {@link #COUNTING_PASSES} per query), and sorted best
     * first on the host. They differ from the same pairs' entries in the tiles only by float32
     * rounding (about 1e-7, as the matrix product sums in another order), well inside {@link
     * #TIE_TOLERANCE}. For the j-th positive of every query at once, one comparison per tile counts
     * the gallery scores at least its threshold {@code s - TIE_TOLERANCE} (in float32, as the general
     * path rounds it), positives included; the host then subtracts the query's positives that score at
     * least the threshold. The same ranks as the general path, but for a score within float rounding of
     * a threshold, which either may put on either side; without its mask, masked copy and top-k, and
     * with one matrix product for both directions instead of one each.
     */
    private BothDirections rankSmallGroups(NDArray firstEmbeddings, NDArray secondUnit, long[] groups,
            long[] groupSizes, int largestGroup, NDManager scope) {
        int records = groups.length;
        PositiveScores positives = positiveScores(firstEmbeddings, secondUnit, groups, groupSizes, scope);
        Rankings firstToSecond = new Rankings(new long[records], new double[records]);
        Rankings secondToFirst = new Rankings(new long[records], new double[records]);
        // Pass j's thresholds for all queries, shaped to compare with a tile's rows [rows, 1] and columns [1, cols].
        NDArray firstThresholds = scope.create(thresholds(positives.firstToSecond(), positives, largestGroup),
                new Shape(largestGroup, records, 1));
        NDArray secondThresholds = scope.create(thresholds(positives.secondToFirst(), positives, largestGroup),
                new Shape(largestGroup, 1, records));
        NDArray secondTransposed = secondUnit.transpose();

        int columns = tileColumns(blockSize);
        int tiles = (records + columns - 1) / columns;
        // Per column tile and pass, the second tower's counts, summed over all blocks of rows.
        NDArray[][] columnCounts = new NDArray[tiles][];
        for (int t = 0; t < tiles; t++) {
            int passes = mostPositives(groups, groupSizes, t * columns, Math.min(records, (t + 1) * columns));
            columnCounts[t] = new NDArray[passes];
            for (int pass = 0; pass < passes; pass++) {
                columnCounts[t][pass] = scope.zeros(new Shape(Math.min(records, (t + 1) * columns) - t * columns),
                        DataType.INT64);
            }
        }
        for (int start = 0; start < records; start += blockSize) {
            int end = Math.min(records, start + blockSize);
            int rowPasses = mostPositives(groups, groupSizes, start, end);
            try (NDManager block = scope.newSubManager()) {
                block.tempAttachAll(firstEmbeddings, secondTransposed, firstThresholds, secondThresholds);
                NDArray queries = unitRows(firstEmbeddings.get(new NDIndex("{}:{}", start, end)));
                NDArray[] rowThresholds = new NDArray[rowPasses];
                NDArray[] rowCounts = new NDArray[rowPasses];
                for (int pass = 0; pass < rowPasses; pass++) {
                    rowThresholds[pass] = firstThresholds.get(new NDIndex("{}, {}:{}", pass, start, end));
                    rowCounts[pass] = block.zeros(new Shape(end - start), DataType.INT64);
                }
                for (int t = 0; t < tiles; t++) {
                    int columnStart = t * columns;
                    int columnEnd = Math.min(records, columnStart + columns);
                    try (NDManager tile = block.newSubManager()) {
                        tile.tempAttachAll(queries, secondTransposed, secondThresholds);
                        NDArray similarity = queries.matMul(secondTransposed.get(new NDIndex(":, {}:{}", columnStart,
                                columnEnd)));
                        int passes = Math.max(rowPasses, columnCounts[t].length);
                        for (int pass = 0; pass < passes; pass++) {
                            if (pass < rowPasses) {
                                addCountsAtLeast(similarity, rowThresholds[pass], 1, rowCounts[pass]);
                            }
                            if (pass < columnCounts[t].length) {
                                NDArray columnThresholds = secondThresholds.get(
                                        new NDIndex("{}, :, {}:{}", pass, columnStart, columnEnd));
                                addCountsAtLeast(similarity, columnThresholds, 0, columnCounts[t][pass]);
                                columnThresholds.close();
                            }
                        }
                    }
                }
                for (int pass = 0; pass < rowPasses; pass++) {
                    long[] atLeast = rowCounts[pass].toLongArray();
                    for (int r = 0; r < end - start; r++) {
                        addPositive(firstToSecond, start + r, pass, atLeast[r], positives.firstToSecond(), positives);
                    }
                }
            }
        }
        for (int t = 0; t < tiles; t++) {
            for (int pass = 0; pass < columnCounts[t].length; pass++) {
                long[] atLeast = columnCounts[t][pass].toLongArray();
                for (int c = 0; c < atLeast.length; c++) {
                    addPositive(secondToFirst, t * columns + c, pass, atLeast[c], positives.secondToFirst(), positives);
                }
            }
        }
        return new BothDirections(firstToSecond, secondToFirst);
    }

    /**
     * Floats in one tile of similarities: 4 MB, so that a tile, its comparison (1 MB of booleans) and
     * the two slices of embeddings it is made of stay in the cache (2 MB of L2 per core, a 32 MB L3
     * shared with whatever else runs) while every positive of both directions is counted from it,
     * instead of each count streaming a block_size x N slice from memory. Measured at 20k x 20k on 2
     * threads: 2 and 8 MB tiles were as fast, 16 MB ones took 1.7 times as long.
     */
    private static final int TILE_FLOATS = 1 << 20;

    /** Columns of a tile of {@code blockSize} rows: 1024 for the default 1024, the whole gallery for one row. */
    static int tileColumns(int blockSize) {
        return Math.max(1, TILE_FLOATS / blockSize);
    }

    /**
     * Adds to {@code counts} how many of the tile's similarities are at least their threshold, per row
     * ({@code axis} 1, thresholds [rows, 1]) or per column ({@code axis} 0, thresholds [1, cols]). The
     * comparison is closed at once, so the next pass reuses its memory while it is in the cache.
     */
    private static void addCountsAtLeast(NDArray similarity, NDArray thresholds, int axis, NDArray counts) {
        try (NDArray atLeast = similarity.gte(thresholds); NDArray sums = atLeast.sum(new int[] {axis})) {
            counts.addi(sums);
        }
    }

    /**
     * Every query's positives' scores, best first: query i's are at {@code start[i]}, {@code
     * count[i]} of them, in the array of its direction. Both directions read the same pairs: the
     * s x s scores of a group of s records, row a for its a-th record's first-tower query and column
     * a for its second-tower query.
     */
    private record PositiveScores(float[] firstToSecond, float[] secondToFirst, int[] start, int[] count) {}

    /**
     * Computes each group's s x s scores first_a . second_b as dot products of gathered rows (the first
     * tower's normalised as gathered), a chunk of pairs at a time (a tile's worth of floats per side),
     * and sorts them per query.
     */
    private static PositiveScores positiveScores(NDArray firstEmbeddings, NDArray secondUnit, long[] groups,
            long[] groupSizes, NDManager scope) {
        int records = groups.length;
        int[] groupStart = new int[groupSizes.length];
        int pairs = 0;
        for (int g = 0; g < groupSizes.length; g++) {
            groupStart[g] = pairs;
            pairs = Math.toIntExact(pairs + groupSizes[g] * groupSizes[g]);
        }
        // Pair (a, b) of group g is entry groupStart[g] + a * s + b; records are placed in order of appearance.
        int[] slot = new int[records];
        int[] filled = new int[groupSizes.length];
        long[] firstRows = new long[pairs];
        long[] secondRows = new long[pairs];
        int[][] members = new int[groupSizes.length][];
        for (int g = 0; g < groupSizes.length; g++) {
            members[g] = new int[(int) groupSizes[g]];
        }
        for (int i = 0; i < records; i++) {
            int g = (int) groups[i];
            slot[i] = filled[g]++;
            members[g][slot[i]] = i;
        }
        for (int g = 0; g < members.length; g++) {
            int size = members[g].length;
            for (int a = 0; a < size; a++) {
                for (int b = 0; b < size; b++) {
                    firstRows[groupStart[g] + a * size + b] = members[g][a];
                    secondRows[groupStart[g] + a * size + b] = members[g][b];
                }
            }
        }
        float[] pairScores = new float[pairs];
        int chunk = Math.max(1, TILE_FLOATS / Math.toIntExact(secondUnit.getShape().get(1)));
        for (int from = 0; from < pairs; from += chunk) {
            int to = Math.min(pairs, from + chunk);
            try (NDManager part = scope.newSubManager()) {
                part.tempAttachAll(firstEmbeddings, secondUnit);
                NDArray first = unitRows(firstEmbeddings.get(part.create(Arrays.copyOfRange(firstRows, from, to))));
                NDArray second = secondUnit.get(part.create(Arrays.copyOfRange(secondRows, from, to)));
                System.arraycopy(first.mul(second).sum(new int[] {1}).toFloatArray(), 0, pairScores, from, to - from);
            }
        }

        float[] firstToSecond = new float[pairs];
        float[] secondToFirst = new float[pairs];
        int[] start = new int[records];
        int[] count = new int[records];
        for (int i = 0; i < records; i++) {
            int g = (int) groups[i];
            int size = members[g].length;
            start[i] = groupStart[g] + slot[i] * size;
            count[i] = size;
            for (int b = 0; b < size; b++) {
                firstToSecond[start[i] + b] = pairScores[start[i] + b];
                secondToFirst[start[i] + b] = pairScores[groupStart[g] + b * size + slot[i]];
            }
            sortDescending(firstToSecond, start[i], start[i] + size);
            sortDescending(secondToFirst, start[i], start[i] + size);
        }
        return new PositiveScores(firstToSecond, secondToFirst, start, count);
    }

    private static void sortDescending(float[] values, int from, int to) {
        Arrays.sort(values, from, to);
        for (int low = from, high = to - 1; low < high; low++, high--) {
            float swap = values[low];
            values[low] = values[high];
            values[high] = swap;
        }
    }

    /**
     * [passes, N]: pass j's threshold for query i, its j-th best positive's score less {@link
     * #TIE_TOLERANCE} in float32 (what {@link #addPositive} recomputes), or +infinity, which nothing
     * reaches, where the query has no j-th positive.
     */
    private static float[] thresholds(float[] scores, PositiveScores positives, int passes) {
        int records = positives.start().length;
        float[] thresholds = new float[passes * records];
        for (int pass = 0; pass < passes; pass++) {
            for (int i = 0; i < records; i++) {
                thresholds[pass * records + i] = pass < positives.count()[i]
                        ? scores[positives.start()[i] + pass] - TIE_TOLERANCE : Float.POSITIVE_INFINITY;
            }
        }
        return thresholds;
    }

    /**
     * Adds a query's (pass + 1)-th best positive to its rank and average precision, given {@code
     * atLeast}, the gallery scores counted at least its threshold, positives included.
     */
    private static void addPositive(Rankings rankings, int query, int pass, long atLeast, float[] scores,
            PositiveScores positives) {
        int count = positives.count()[query];
        if (pass >= count) {
            return;
        }
        int start = positives.start()[query];
        float threshold = scores[start + pass] - TIE_TOLERANCE;
        long positivesAtLeast = 0;
        for (int b = 0; b < count; b++) {
            if (scores[start + b] >= threshold) {
                positivesAtLeast++;
            }
        }
        // At zero: a positive within rounding of the threshold may have fallen below it in the tile.
        long nonPositives = Math.max(0, atLeast - positivesAtLeast);
        long j = pass + 1;
        long rank = j + nonPositives;
        if (j == 1) {
            rankings.ranks()[query] = rank;
        }
        rankings.averagePrecisions()[query] += (double) j / rank / count;
    }

    /** The most positives of any query among records [from, to). */
    private static int mostPositives(long[] groups, long[] groupSizes, int from, int to) {
        int most = 0;
        for (int i = from; i < to; i++) {
            most = (int) Math.max(most, groupSizes[(int) groups[i]]);
        }
        return most;
    }

    /**
     * Queries with at most this many positives are counted by one comparison pass per positive: over
     * each tile in {@link #rankSmallGroups}, taken when every group is this small, and over the block
     * in {@link #rank}. Beyond, sorting a block_size x N block once is cheaper (a sort costs about as
     * much as 15 passes over it on CPU).
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
