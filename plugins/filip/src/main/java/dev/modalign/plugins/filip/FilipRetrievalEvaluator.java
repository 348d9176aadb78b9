package dev.modalign.plugins.filip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
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
import dev.modalign.api.TowerOutput;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cross-modal retrieval with FILIP's token-wise similarity ("FILIP: Fine-grained Interactive
 * Language-Image Pre-Training", Yao et al., ICLR 2022, Section 3.1.1), both directions: a query's
 * tokens each find their best match among a gallery item's real tokens and average ({@link
 * TokenwiseSimilarity}), so image-to-text ranks by s^I and text-to-image by s^T, as the paper retrieves.
 *
 * <p>Positives, ranks and metrics are those of the {@code retrieval} evaluator, so the two line up
 * column by column: a gallery item is a positive of a query when their records share a group id; the
 * rank is 1 + the number of non-positives scoring at least as high as the best positive (ties count
 * against the query); {@code A_to_B/R_at_k}, {@code A_to_B/MRR} and {@code A_to_B/chance_R_at_1}.
 *
 * <p>Memory: scores are computed for {@code block_size} queries against {@code block_size} gallery items
 * at a time, a [block, Tq, block, Tg] array of token pairs, and kept as [block, N] rows until the block of
 * queries is ranked. The token features of the evaluation set come from the host ({@link
 * EvalContext#tokenOutputs}), which keeps them because this evaluator asks ({@link #needsTokens()}).
 */
public final class FilipRetrievalEvaluator implements Evaluator {

    /**
     * @param k the cut-offs of recall at k
     * @param blockSize queries (and gallery items) scored per block
     */
    public record Params(
            @Doc("Cut-offs of recall R@k: a query is a hit at k when one of its positives ranks in the top k")
            @Default("[1, 5, 10]") List<Integer> k,
            @Doc("Queries and gallery items per block: block_size x T x block_size x T token pairs are scored at a"
                    + " time") @Default("64") int blockSize) {

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
                throw new InvalidParamException("block_size", "must be at least 1, found " + blockSize);
            }
            k = List.copyOf(k);
        }
    }

    /** Scores within this of the best positive count as ties, as in the retrieval evaluator. */
    static final float TIE_TOLERANCE = 1e-6f;

    private final List<Integer> cutOffs;
    private final int blockSize;

    public FilipRetrievalEvaluator(Params params, ComponentContext context) {
        requireTwoTowers(context.towers());
        this.cutOffs = params.k();
        this.blockSize = params.blockSize();
    }

    @Override
    public boolean needsTokens() {
        return true;
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        List<String> towers = context.towers();
        requireTwoTowers(towers);
        String first = towers.get(0);
        String second = towers.get(1);
        TowerOutput firstTokens = tokensOf(context, first);
        TowerOutput secondTokens = tokensOf(context, second);
        int records = recordCount(first, firstTokens, second, secondTokens, context.groupIds());
        long[] groups = groupIndices(context.groupIds());
        long[] groupSizes = new long[records];
        for (long group : groups) {
            groupSizes[(int) group]++;
        }
        long[] firstToSecond;
        long[] secondToFirst;
        try (NDManager scope = context.manager().newSubManager()) {
            for (TowerOutput output : List.of(firstTokens, secondTokens)) {
                scope.tempAttachAll(output.tokens());
                if (output.tokenMask() != null) {
                    scope.tempAttachAll(output.tokenMask());
                }
            }
            NDArray a = Scalars.normalise(firstTokens.tokens().toType(DataType.FLOAT32, false), 2);
            NDArray b = Scalars.normalise(secondTokens.tokens().toType(DataType.FLOAT32, false), 2);
            NDArray aMask = TokenwiseSimilarity.maskOf(a, firstTokens.tokenMask());
            NDArray bMask = TokenwiseSimilarity.maskOf(b, secondTokens.tokenMask());
            NDArray groupArray = scope.create(groups);
            firstToSecond = ranks(a, aMask, b, bMask, groupArray, scope);
            secondToFirst = ranks(b, bMask, a, aMask, groupArray, scope);
        }
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

    /** The rank of every query's best positive among the gallery, by s(query -&gt; item), 1 for first. */
    private long[] ranks(NDArray queries, NDArray queryMask, NDArray gallery, NDArray galleryMask, NDArray groups,
            NDManager scope) {
        int records = Math.toIntExact(queries.getShape().get(0));
        long[] ranks = new long[records];
        NDArray galleryGroups = groups.expandDims(0);
        NDArray notAPositive = scope.create(Float.NEGATIVE_INFINITY);
        for (int start = 0; start < records; start += blockSize) {
            int end = Math.min(records, start + blockSize);
            try (NDManager block = scope.newSubManager()) {
                block.tempAttachAll(queries, queryMask, gallery, galleryMask, groups, galleryGroups, notAPositive);
                NDIndex rows = new NDIndex("{}:{}", start, end);
                NDArray blockQueries = queries.get(rows);
                NDArray blockMask = queryMask.get(rows);
                NDList columns = new NDList();
                for (int from = 0; from < records; from += blockSize) {
                    NDIndex items = new NDIndex("{}:{}", from, Math.min(records, from + blockSize));
                    columns.add(TokenwiseSimilarity.queryToGallery(blockQueries, blockMask, gallery.get(items),
                            galleryMask.get(items)));
                }
                NDArray similarity = columns.size() == 1 ? columns.get(0) : NDArrays.concat(columns, 1);
                NDArray positive = groups.get(rows).expandDims(1).eq(galleryGroups);
                NDArray bestPositive = NDArrays.where(positive, similarity, notAPositive).max(new int[] {1}, true);
                NDArray outranking = similarity.gte(bestPositive.sub(TIE_TOLERANCE))
                        .logicalAnd(positive.logicalNot())
                        .toType(DataType.INT64, false)
                        .sum(new int[] {1});
                long[] blockRanks = outranking.toLongArray();
                for (int i = 0; i < blockRanks.length; i++) {
                    ranks[start + i] = blockRanks[i] + 1;
                }
            }
        }
        return ranks;
    }

    private void putMetrics(Map<String, Double> metrics, String direction, long[] ranks, double chance) {
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
        metrics.put(direction + "/chance_R_at_1", chance);
    }

    private static TowerOutput tokensOf(EvalContext context, String tower) {
        TowerOutput output = context.tokenOutputs(tower).orElseThrow(() -> new IllegalStateException(
                "filip-retrieval matches token features, but tower '" + tower + "' has none in the evaluation set;"
                        + " use an encoder with token or patch features there (transformer, cnn)"));
        if (output.tokens().getShape().dimension() != 3) {
            throw new IllegalStateException("filip-retrieval needs token features [N, T, D] of tower '" + tower
                    + "', found " + output.tokens().getShape());
        }
        return output;
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

    private static int recordCount(String first, TowerOutput firstTokens, String second, TowerOutput secondTokens,
            List<String> groupIds) {
        Shape firstShape = firstTokens.tokens().getShape();
        Shape secondShape = secondTokens.tokens().getShape();
        if (firstShape.get(0) != secondShape.get(0)) {
            throw new IllegalArgumentException("retrieval pairs row i of both towers, but " + first + " has "
                    + firstShape.get(0) + " rows and " + second + " has " + secondShape.get(0));
        }
        if (firstShape.get(2) != secondShape.get(2)) {
            throw new IllegalArgumentException("token-wise similarity needs one token width, but " + first + " has "
                    + firstShape.get(2) + " and " + second + " has " + secondShape.get(2)
                    + "; give both encoders the same embed_dim");
        }
        if (firstShape.get(0) == 0) {
            throw new IllegalArgumentException("retrieval needs at least one evaluation record, found none");
        }
        if (groupIds.size() != firstShape.get(0)) {
            throw new IllegalArgumentException("the evaluation set has " + firstShape.get(0) + " rows of tokens but "
                    + groupIds.size() + " group ids");
        }
        return Math.toIntExact(firstShape.get(0));
    }

    private static void requireTwoTowers(List<String> towers) {
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "filip-retrieval runs between exactly two towers, found " + towers
                    + "; name the query and gallery towers, e.g. [image, text]");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "filip-retrieval runs between two different towers, found "
                    + towers + "; against itself every query finds its own record");
        }
    }
}
