package dev.modalign.plugins.evaluators;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Weighted k-nearest-neighbour classification of one tower's frozen, L2-normalised embeddings:
 * the fit part of the {@link StratifiedSplit} is the memory, each test record a query. The k most
 * cosine-similar memory records vote for their classes with weight exp(cos / T); the class with the
 * most weight wins. "Unsupervised Feature Learning via Non-Parametric Instance Discrimination" (Wu
 * et al., CVPR 2018), Section 3.4, Eq. 9, as used with k = 20, T = 0.07 by "Emerging Properties in
 * Self-Supervised Vision Transformers" (Caron et al., ICCV 2021).
 *
 * <p>Neighbours with equal similarity are taken in memory order, so the k are always the same; k
 * beyond the memory's size means all of it. A class none of the k voted for is not a candidate.
 * Metrics: {@code top1}, and {@code top5} when there are more than 5 classes; ties between classes'
 * votes are scored as {@link ClassificationAccuracy} says.
 */
public final class KnnEvaluator implements Evaluator {

    /**
     * @param k the number of neighbours that vote
     * @param temperature T in the vote weight exp(cos / T)
     * @param testFraction the fraction of each class held out as queries
     */
    public record Params(
            @Doc("Neighbours that vote (all of the memory when it has fewer)") @Default("20") int k,
            @Doc("Temperature T of the vote weights exp(cos / T): small T lets the nearest neighbours decide")
                    @Default("0.07") double temperature,
            @Doc("Fraction of each class's records held out as queries; the rest are the memory") @Default("0.5")
                    double testFraction) {

        public Params {
            if (k < 1) {
                throw new InvalidParamException("k", "must be at least 1, found " + k + "; e.g. 20");
            }
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be a finite number > 0, found " + temperature
                        + "; e.g. 0.07");
            }
            StratifiedSplit.checkFraction("test_fraction", testFraction);
        }
    }

    static final String NAME = "knn";

    private final Params params;

    public KnnEvaluator(Params params, ComponentContext context) {
        EvalSet.oneTower(context.towers(), NAME);
        this.params = params;
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        String tower = EvalSet.oneTower(context.towers(), NAME);
        float[][] rows = EvalSet.unitRows(context, tower);
        int[] labels = EvalSet.labels(context, NAME, rows.length);
        StratifiedSplit split = StratifiedSplit.of(labels, params.testFraction(), context.seed()).requireTestRecords(NAME);
        boolean topFive = EvalSet.distinctClasses(labels) > 5;
        ClassificationAccuracy accuracy = classify(context.manager(), StratifiedSplit.rows(rows, split.fit()),
                StratifiedSplit.labels(labels, split.fit()), StratifiedSplit.rows(rows, split.test()),
                StratifiedSplit.labels(labels, split.test()), EvalSet.classCount(labels), params.k(),
                params.temperature(), topFive ? new int[] {1, 5} : new int[] {1});
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("top1", accuracy.accuracy(0));
        if (topFive) {
            metrics.put("top5", accuracy.accuracy(1));
        }
        return new EvalResult(metrics);
    }

    /** Classifies unit-row queries by the weighted votes of their k nearest unit-row memory records. */
    static ClassificationAccuracy classify(NDManager manager, float[][] memory, int[] memoryLabels, float[][] queries,
            int[] queryLabels, int classes, int k, double temperature, int... cutOffs) {
        ClassificationAccuracy accuracy = new ClassificationAccuracy(classes, cutOffs);
        int neighbours = Math.min(k, memory.length);
        CosineScores.forEachBlock(manager, queries, memory, (firstQuery, scores, rows) -> {
            for (int r = 0; r < rows; r++) {
                int offset = r * memory.length;
                int[] nearest = nearest(scores, offset, memory.length, neighbours);
                double[] votes = new double[classes];
                Arrays.fill(votes, Double.NEGATIVE_INFINITY);
                // Weights relative to the nearest neighbour's, exp((cos - cos_max) / T): the same ranking
                // as exp(cos / T), without overflow at small T.
                double nearestScore = scores[offset + nearest[0]];
                for (int m : nearest) {
                    double weight = Math.exp((scores[offset + m] - nearestScore) / temperature);
                    int label = memoryLabels[m];
                    votes[label] = votes[label] == Double.NEGATIVE_INFINITY ? weight : votes[label] + weight;
                }
                accuracy.add(queryLabels[firstQuery + r], votes);
            }
        });
        return accuracy;
    }

    /**
     * The indices of the {@code count} largest of scores[offset .. offset + size), largest first;
     * equal scores in index order.
     */
    static int[] nearest(float[] scores, int offset, int size, int count) {
        // A heap of the best so far whose head is the worst of them: lower score, or on a tie the later index.
        // (Adding 0.0f makes -0.0 equal to 0.0, as the dot products of a zero row are either.)
        Comparator<Integer> worseFirst = (a, b) -> {
            int byScore = Float.compare(scores[offset + a] + 0.0f, scores[offset + b] + 0.0f);
            return byScore != 0 ? byScore : Integer.compare(b, a);
        };
        PriorityQueue<Integer> best = new PriorityQueue<>(count + 1, worseFirst);
        for (int m = 0; m < size; m++) {
            if (best.size() < count) {
                best.add(m);
            } else if (worseFirst.compare(m, best.peek()) > 0) {
                best.poll();
                best.add(m);
            }
        }
        int[] nearest = new int[best.size()];
        for (int i = nearest.length - 1; i >= 0; i--) {
            nearest[i] = best.poll();
        }
        return nearest;
    }
}
