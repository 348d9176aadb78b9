package dev.modalign.plugins.evaluators;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Few-shot classification with class centroids of one tower's frozen, L2-normalised embeddings:
 * in each episode, k records of every class are drawn from the fit part of the {@link
 * StratifiedSplit} (all of a class's fit records when it has fewer), each class is represented by the
 * normalised mean of its k embeddings, and every test record is given the class of the most
 * cosine-similar centroid. The nearest-class-mean classifier of "Prototypical Networks for Few-shot
 * Learning" (Snell et al., NeurIPS 2017), Eq. 1 and 2, with cosine similarity in place of the
 * squared distance and no training on the episodes.
 *
 * <p>Metrics, for each k: {@code <k>_shot/accuracy}, the mean top-1 accuracy over the episodes, and
 * {@code <k>_shot/accuracy_std}, its sample standard deviation (0 with one episode). Episodes are
 * drawn from the run's seed and k, so the same run draws the same episodes. Ties are scored as
 * {@link ClassificationAccuracy} says.
 */
public final class FewShotEvaluator implements Evaluator {

    /**
     * @param shots the numbers of examples per class
     * @param episodes the episodes drawn for each number
     * @param testFraction the fraction of each class held out as test records
     */
    public record Params(
            @Doc("Examples per class in an episode, one evaluation for each") @Default("[1, 5]") List<Integer> shots,
            @Doc("Episodes drawn for each number of shots; the metrics are their mean and standard deviation")
                    @Default("10") int episodes,
            @Doc("Fraction of each class's records held out as test records; the examples are drawn from the rest")
                    @Default("0.5") double testFraction) {

        public Params {
            if (shots == null || shots.isEmpty()) {
                throw new InvalidParamException("shots", "must list at least one number of examples per class, found "
                        + shots + "; e.g. [1, 5]");
            }
            for (Integer shot : shots) {
                if (shot == null || shot < 1) {
                    throw new InvalidParamException("shots", "every number of examples per class must be at least 1, found "
                            + shot + " in " + shots);
                }
            }
            if (new HashSet<>(shots).size() != shots.size()) {
                throw new InvalidParamException("shots", "numbers of shots must differ, found " + shots + "; list each once");
            }
            if (episodes < 1) {
                throw new InvalidParamException("episodes", "must be at least 1, found " + episodes + "; e.g. 10");
            }
            StratifiedSplit.checkFraction("test_fraction", testFraction);
            shots = List.copyOf(shots);
        }
    }

    static final String NAME = "few-shot";

    private final Params params;

    public FewShotEvaluator(Params params, ComponentContext context) {
        EvalSet.oneTower(context.towers(), NAME);
        this.params = params;
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        String tower = EvalSet.oneTower(context.towers(), NAME);
        float[][] rows = EvalSet.unitRows(context, tower);
        int[] labels = EvalSet.labels(context, NAME, rows.length);
        int classes = EvalSet.classCount(labels);
        StratifiedSplit split = StratifiedSplit.of(labels, params.testFraction(), context.seed()).requireTestRecords(NAME);
        float[][] testRows = StratifiedSplit.rows(rows, split.test());
        int[] testLabels = StratifiedSplit.labels(labels, split.test());
        Map<Integer, int[]> fitByClass = byClass(split.fit(), labels);

        Map<String, Double> metrics = new LinkedHashMap<>();
        for (int shots : params.shots()) {
            Random random = new Random(context.seed() * 1_000_003L + shots);
            double[] accuracies = new double[params.episodes()];
            for (int episode = 0; episode < accuracies.length; episode++) {
                List<Integer> support = new ArrayList<>();
                for (int[] members : fitByClass.values()) {
                    for (int index : sample(members, shots, random)) {
                        support.add(index);
                    }
                }
                int[] supportIndices = support.stream().mapToInt(Integer::intValue).toArray();
                accuracies[episode] = centroidAccuracy(context.manager(), StratifiedSplit.rows(rows, supportIndices),
                        StratifiedSplit.labels(labels, supportIndices), testRows, testLabels, classes);
            }
            metrics.put(shots + "_shot/accuracy", mean(accuracies));
            metrics.put(shots + "_shot/accuracy_std", standardDeviation(accuracies));
        }
        return new EvalResult(metrics);
    }

    /**
     * The top-1 accuracy of the nearest-centroid classifier whose centroids are the normalised means
     * of the support rows of each class; classes without support rows are never predicted.
     */
    static double centroidAccuracy(NDManager manager, float[][] support, int[] supportLabels, float[][] queries,
            int[] queryLabels, int classes) {
        double[][] sums = new double[classes][];
        for (int i = 0; i < support.length; i++) {
            int label = supportLabels[i];
            if (sums[label] == null) {
                sums[label] = new double[support[i].length];
            }
            for (int j = 0; j < support[i].length; j++) {
                sums[label][j] += support[i][j];
            }
        }
        int[] present = java.util.stream.IntStream.range(0, classes).filter(c -> sums[c] != null).toArray();
        float[][] centroids = new float[present.length][];
        for (int p = 0; p < present.length; p++) {
            centroids[p] = EvalSet.unitFloats(sums[present[p]]);
        }
        ClassificationAccuracy accuracy = new ClassificationAccuracy(classes, 1);
        CosineScores.forEachBlock(manager, queries, centroids, (firstQuery, scores, rows) -> {
            for (int r = 0; r < rows; r++) {
                double[] classScores = new double[classes];
                Arrays.fill(classScores, Double.NEGATIVE_INFINITY);
                for (int p = 0; p < present.length; p++) {
                    classScores[present[p]] = scores[r * present.length + p];
                }
                accuracy.add(queryLabels[firstQuery + r], classScores);
            }
        });
        return accuracy.accuracy(0);
    }

    /** The record indices of each class, classes in label order, records ascending. */
    private static Map<Integer, int[]> byClass(int[] indices, int[] labels) {
        Map<Integer, List<Integer>> lists = new TreeMap<>();
        for (int index : indices) {
            lists.computeIfAbsent(labels[index], c -> new ArrayList<>()).add(index);
        }
        Map<Integer, int[]> byClass = new LinkedHashMap<>();
        lists.forEach((label, members) -> byClass.put(label, members.stream().mapToInt(Integer::intValue).toArray()));
        return byClass;
    }

    /** {@code count} distinct members drawn at random (all of them when there are fewer): a partial Fisher-Yates shuffle. */
    static int[] sample(int[] members, int count, Random random) {
        int[] pool = members.clone();
        int taken = Math.min(count, pool.length);
        for (int i = 0; i < taken; i++) {
            int j = i + random.nextInt(pool.length - i);
            int swap = pool[i];
            pool[i] = pool[j];
            pool[j] = swap;
        }
        return Arrays.copyOf(pool, taken);
    }

    private static double mean(double[] values) {
        return Arrays.stream(values).average().orElse(0);
    }

    /** The sample standard deviation (n - 1 in the denominator); 0 for a single value. */
    static double standardDeviation(double[] values) {
        if (values.length < 2) {
            return 0;
        }
        double mean = mean(values);
        double squares = 0;
        for (double value : values) {
            squares += (value - mean) * (value - mean);
        }
        return Math.sqrt(squares / (values.length - 1));
    }
}
