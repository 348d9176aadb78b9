package dev.modalign.plugins.evaluators;

import java.util.Arrays;

/**
 * Top-k accuracy of class scores, overall and per class.
 *
 * <p>Ties are scored by the accuracy a random tie-break would give in expectation: when the true
 * class's score is beaten by {@code a} classes and tied with {@code t} others, it lands in positions
 * {@code a + 1 .. a + t + 1} with equal probability, so it is in the top k with probability {@code
 * clamp((k - a) / (t + 1), 0, 1)}. A collapsed model whose scores are all equal thus gets exactly
 * chance (1 / classes), not a lucky or unlucky tie-break. Scores within {@link #TIE_TOLERANCE}
 * (relative to the true class's score, at least absolute) count as tied, since the same dot product
 * can round differently in two columns of a matrix product.
 *
 * <p>A score of negative infinity marks a class the classifier cannot predict (it had no training
 * example, or no neighbour voted for it); a record whose true class is such is a miss at every k.
 */
final class ClassificationAccuracy {

    static final double TIE_TOLERANCE = 1e-6;

    private final int[] cutOffs;
    private final double[] hits;
    private final double[] classHits;
    private final long[] classCounts;
    private long records;

    /**
     * @param classes the number of classes; labels are 0 .. classes - 1
     * @param cutOffs the k of each top-k accuracy; the first is also the per-class accuracy's
     */
    ClassificationAccuracy(int classes, int... cutOffs) {
        this.cutOffs = cutOffs.clone();
        this.hits = new double[cutOffs.length];
        this.classHits = new double[classes];
        this.classCounts = new long[classes];
    }

    /** Adds one record: its true class and every class's score. */
    void add(int label, double[] scores) {
        for (int i = 0; i < cutOffs.length; i++) {
            double hit = hit(scores, label, cutOffs[i]);
            hits[i] += hit;
            if (i == 0) {
                classHits[label] += hit;
            }
        }
        classCounts[label]++;
        records++;
    }

    /** The accuracy at the i-th cut-off given to the constructor. */
    double accuracy(int cutOffIndex) {
        return records == 0 ? 0 : hits[cutOffIndex] / records;
    }

    /** The first cut-off's accuracy of the records of one class, or NaN when it has none. */
    double classAccuracy(int label) {
        return classCounts[label] == 0 ? Double.NaN : classHits[label] / classCounts[label];
    }

    /** The first cut-off's accuracy averaged over the classes that have records (each class weighs the same). */
    double meanPerClass() {
        return Arrays.stream(classIndicesWithRecords()).mapToDouble(this::classAccuracy).average().orElse(0);
    }

    int[] classIndicesWithRecords() {
        return java.util.stream.IntStream.range(0, classCounts.length).filter(c -> classCounts[c] > 0).toArray();
    }

    /** The probability that {@code label} is among the top {@code k} of {@code scores} under a random tie-break. */
    static double hit(double[] scores, int label, int k) {
        double own = scores[label];
        if (own == Double.NEGATIVE_INFINITY || Double.isNaN(own)) {
            return 0;
        }
        double tolerance = TIE_TOLERANCE * Math.max(1, Math.abs(own));
        int above = 0;
        int tied = 0;
        for (int c = 0; c < scores.length; c++) {
            if (c == label) {
                continue;
            }
            if (scores[c] > own + tolerance) {
                above++;
            } else if (scores[c] >= own - tolerance) {
                tied++;
            }
        }
        return Math.max(0, Math.min(1, (double) (k - above) / (tied + 1)));
    }
}
