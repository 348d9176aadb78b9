package dev.modalign.plugins.oneencoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Scalars;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A new modality's tower against every tower of the frozen space it was aligned into (OneEncoder, Faye et al.,
 * 2024, Section 4: the new modality retrieves from modalities it was never paired with). Towers are {@code [new,
 * space_1, space_2, ...]}; {@code trained_with} names the towers the new one was trained against, and every other
 * is emergent: speech to image when speech learned only from text.
 *
 * <p>For each space tower s, both directions, with the records of one group id as positives (several voices of one
 * caption), as the retrieval evaluator counts them: rank = 1 + the non-positives scoring at least as high as the
 * best positive (ties count against the query); {@code <new>_to_<s>/R_at_k}, {@code .../MRR}, {@code
 * <s>_to_<new>/...}, and {@code <new>_to_<s>/chance_R_at_1}, the R@1 of a random ranking (the mean over queries of
 * positives / gallery size). {@code emergent/R_at_1} averages R@1 over both directions of every emergent tower,
 * {@code emergent/R_at_1_over_chance} divides it by chance; {@code trained/...} the same for the trained towers.
 */
public final class EmergentRetrievalEvaluator implements Evaluator {

    /**
     * @param trainedWith the towers the new tower was trained against; the others are emergent
     * @param k the cut-offs of recall at k
     */
    public record Params(
            @Doc("Towers the new tower (the first) was trained against, e.g. [text]; every other tower named is"
                    + " emergent") @Default("[]") List<String> trainedWith,
            @Doc("Cut-offs of recall R@k") @Default("[1, 5, 10]") List<Integer> k) {

        public Params {
            trainedWith = trainedWith == null ? List.of() : List.copyOf(trainedWith);
            if (k == null || k.isEmpty() || k.stream().anyMatch(c -> c == null || c < 1)) {
                throw new InvalidParamException("k", "must name cut-offs of at least 1, found " + k + "; e.g. [1, 5, 10]");
            }
            k = List.copyOf(k);
        }
    }

    static final String NAME = "emergent-retrieval";
    /** Scores within this of the best positive count as ties (float32 rounding), as in the retrieval evaluator. */
    static final double TIE_TOLERANCE = 1e-6;

    private final List<String> trainedWith;
    private final List<Integer> cutOffs;

    public EmergentRetrievalEvaluator(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() < 2 || towers.stream().distinct().count() != towers.size()) {
            throw new InvalidParamException("towers", NAME + " reads the new tower and then the towers of the space it"
                    + " was aligned into, all different, found " + towers + "; e.g. [audio, text, image]");
        }
        for (String tower : params.trainedWith()) {
            if (!towers.subList(1, towers.size()).contains(tower)) {
                throw new InvalidParamException("trained_with", "names '" + tower + "', which is not one of the space's"
                        + " towers " + towers.subList(1, towers.size()));
            }
        }
        this.trainedWith = params.trainedWith();
        this.cutOffs = params.k();
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        List<String> towers = context.towers();
        String newTower = towers.get(0);
        int[] groups = groupIndices(context.groupIds());
        Map<String, Double> metrics = new LinkedHashMap<>();
        double[] sums = new double[4]; // emergent R@1 sum, count, trained R@1 sum, count
        double chance;
        try (NDManager scope = context.manager().newSubManager()) {
            float[][] query = unitRows(scope, context.embeddings(newTower));
            if (query.length != groups.length) {
                throw new IllegalArgumentException(NAME + ": " + query.length + " rows of '" + newTower + "' but "
                        + groups.length + " group ids");
            }
            chance = chanceAtOne(groups);
            for (String space : towers.subList(1, towers.size())) {
                float[][] gallery = unitRows(scope, context.embeddings(space));
                boolean emergent = !trainedWith.contains(space);
                for (boolean forward : new boolean[] {true, false}) {
                    String prefix = forward ? newTower + "_to_" + space : space + "_to_" + newTower;
                    double[] scores = forward ? retrieve(query, gallery, groups) : retrieve(gallery, query, groups);
                    for (int c = 0; c < cutOffs.size(); c++) {
                        metrics.put(prefix + "/R_at_" + cutOffs.get(c), scores[c]);
                    }
                    metrics.put(prefix + "/MRR", scores[cutOffs.size()]);
                    metrics.put(prefix + "/chance_R_at_1", chance);
                    double atOne = scores[cutOffs.size() + 1];
                    sums[emergent ? 0 : 2] += atOne;
                    sums[emergent ? 1 : 3] += 1;
                }
            }
        }
        if (sums[1] > 0) {
            metrics.put("emergent/R_at_1", sums[0] / sums[1]);
            metrics.put("emergent/R_at_1_over_chance", sums[0] / sums[1] / chance);
        }
        if (sums[3] > 0) {
            metrics.put("trained/R_at_1", sums[2] / sums[3]);
            metrics.put("trained/R_at_1_over_chance", sums[2] / sums[3] / chance);
        }
        return new EvalResult(metrics);
    }

    /** R@k for each cut-off, then MRR, then R@1, averaged over the queries. */
    private double[] retrieve(float[][] queries, float[][] gallery, int[] groups) {
        double[] sums = new double[cutOffs.size() + 2];
        for (int i = 0; i < queries.length; i++) {
            double[] scores = new double[gallery.length];
            double best = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < gallery.length; j++) {
                scores[j] = dot(queries[i], gallery[j]);
                if (groups[j] == groups[i]) {
                    best = Math.max(best, scores[j]);
                }
            }
            int rank = 1;
            for (int j = 0; j < gallery.length; j++) {
                if (groups[j] != groups[i] && scores[j] >= best - TIE_TOLERANCE) {
                    rank++;
                }
            }
            for (int c = 0; c < cutOffs.size(); c++) {
                sums[c] += rank <= cutOffs.get(c) ? 1 : 0;
            }
            sums[cutOffs.size()] += 1.0 / rank;
            sums[cutOffs.size() + 1] += rank == 1 ? 1 : 0;
        }
        for (int c = 0; c < sums.length; c++) {
            sums[c] /= queries.length;
        }
        return sums;
    }

    /** The mean over queries of (records of its group) / N: R@1 of a random ranking. */
    static double chanceAtOne(int[] groups) {
        Map<Integer, Integer> sizes = new HashMap<>();
        for (int g : groups) {
            sizes.merge(g, 1, Integer::sum);
        }
        double sum = 0;
        for (int g : groups) {
            sum += (double) sizes.get(g) / groups.length;
        }
        return sum / groups.length;
    }

    private static int[] groupIndices(List<String> ids) {
        Map<String, Integer> index = new HashMap<>();
        int[] groups = new int[ids.size()];
        for (int i = 0; i < groups.length; i++) {
            groups[i] = index.computeIfAbsent(ids.get(i), id -> index.size());
        }
        return groups;
    }

    private static float[][] unitRows(NDManager scope, NDArray embeddings) {
        scope.tempAttachAll(embeddings);
        NDArray unit = Scalars.normalise(embeddings.toType(DataType.FLOAT32, false));
        int n = Math.toIntExact(unit.getShape().get(0));
        int d = Math.toIntExact(unit.getShape().get(1));
        float[] flat = unit.toFloatArray();
        float[][] rows = new float[n][];
        for (int i = 0; i < n; i++) {
            rows[i] = java.util.Arrays.copyOfRange(flat, i * d, (i + 1) * d);
        }
        return rows;
    }

    private static double dot(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += (double) a[i] * b[i];
        }
        return sum;
    }
}
