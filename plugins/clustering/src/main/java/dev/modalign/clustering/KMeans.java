package dev.modalign.clustering;

import java.util.Arrays;
import java.util.Random;

/**
 * Lloyd's k-means with k-means++ seeding ("k-means++: The Advantages of Careful Seeding", Arthur and
 * Vassilvitskii, 2007) and restarts: the Euclidean clustering ProtoCLIP runs (with faiss) to find its
 * prototypes and SBCL runs to split head classes into subclasses. Plain Java in double precision with a seeded generator, so that a seed gives the same
 * clusters on any machine.
 *
 * <p>An iteration assigns each point to its nearest centroid (ties to the lower index) and moves each
 * centroid to its points' mean; it stops when no assignment changes or after {@code maxIterations}. A
 * cluster left empty is re-seeded with the point farthest from its own centroid, as faiss does with a
 * split of a large cluster. Of the restarts the one with the lowest inertia (sum of squared distances)
 * is kept, as faiss's {@code nredo}.
 */
public final class KMeans {

    /**
     * @param centroids [k][d], the cluster means
     * @param labels the nearest centroid of each point
     * @param inertia the sum of squared distances of the points to their centroids
     */
    public record Result(float[][] centroids, int[] labels, double inertia) {}

    private KMeans() {}

    /**
     * Clusters {@code points} [n][d] into {@code k} groups.
     *
     * @throws IllegalArgumentException when k &lt; 1, k &gt; n or the points differ in length
     */
    public static Result fit(float[][] points, int k, int maxIterations, int restarts, long seed) {
        if (k < 1 || k > points.length) {
            throw new IllegalArgumentException("k-means needs 1 <= k <= the number of points, found k = " + k + " for "
                    + points.length + " points");
        }
        int dim = points[0].length;
        for (float[] point : points) {
            if (point.length != dim) {
                throw new IllegalArgumentException("k-means points must all have " + dim + " values, found "
                        + point.length);
            }
        }
        Random random = new Random(seed);
        Result best = null;
        for (int restart = 0; restart < Math.max(1, restarts); restart++) {
            Result result = lloyd(points, seedCentroids(points, k, random), maxIterations);
            if (best == null || result.inertia() < best.inertia()) {
                best = result;
            }
        }
        return best;
    }

    /** k-means++: the first centroid uniformly, each next one with probability proportional to d^2. */
    private static double[][] seedCentroids(float[][] points, int k, Random random) {
        int n = points.length;
        double[][] centroids = new double[k][];
        centroids[0] = toDouble(points[random.nextInt(n)]);
        double[] nearest = new double[n];
        Arrays.fill(nearest, Double.POSITIVE_INFINITY);
        for (int c = 1; c < k; c++) {
            double total = 0;
            for (int i = 0; i < n; i++) {
                nearest[i] = Math.min(nearest[i], squaredDistance(points[i], centroids[c - 1]));
                total += nearest[i];
            }
            int chosen;
            if (total > 0) {
                double target = random.nextDouble() * total;
                chosen = n - 1;
                double cumulative = 0;
                for (int i = 0; i < n; i++) {
                    cumulative += nearest[i];
                    if (cumulative > target) {
                        chosen = i;
                        break;
                    }
                }
            } else {
                chosen = random.nextInt(n); // every point coincides with a centroid already
            }
            centroids[c] = toDouble(points[chosen]);
        }
        return centroids;
    }

    private static Result lloyd(float[][] points, double[][] centroids, int maxIterations) {
        int n = points.length;
        int k = centroids.length;
        int dim = points[0].length;
        int[] labels = new int[n];
        Arrays.fill(labels, -1);
        for (int iteration = 0; iteration < maxIterations; iteration++) {
            boolean changed = assign(points, centroids, labels);
            if (!changed) {
                break;
            }
            double[][] sums = new double[k][dim];
            int[] counts = new int[k];
            for (int i = 0; i < n; i++) {
                counts[labels[i]]++;
                for (int j = 0; j < dim; j++) {
                    sums[labels[i]][j] += points[i][j];
                }
            }
            for (int c = 0; c < k; c++) {
                if (counts[c] > 0) {
                    for (int j = 0; j < dim; j++) {
                        centroids[c][j] = sums[c][j] / counts[c];
                    }
                }
            }
            for (int c = 0; c < k; c++) {
                if (counts[c] == 0) {
                    int farthest = farthestFromItsCentroid(points, centroids, labels, counts);
                    if (farthest < 0) {
                        break; // fewer distinct points than clusters: nothing left to split
                    }
                    counts[labels[farthest]]--;
                    labels[farthest] = c;
                    counts[c] = 1;
                    centroids[c] = toDouble(points[farthest]);
                }
            }
        }
        assign(points, centroids, labels);
        double inertia = 0;
        for (int i = 0; i < n; i++) {
            inertia += squaredDistance(points[i], centroids[labels[i]]);
        }
        float[][] out = new float[k][dim];
        for (int c = 0; c < k; c++) {
            for (int j = 0; j < dim; j++) {
                out[c][j] = (float) centroids[c][j];
            }
        }
        return new Result(out, labels, inertia);
    }

    /** Assigns every point to its nearest centroid (the lower index on a tie); whether any label changed. */
    private static boolean assign(float[][] points, double[][] centroids, int[] labels) {
        boolean changed = false;
        for (int i = 0; i < points.length; i++) {
            int best = 0;
            double bestDistance = Double.POSITIVE_INFINITY;
            for (int c = 0; c < centroids.length; c++) {
                double distance = squaredDistance(points[i], centroids[c]);
                if (distance < bestDistance) {
                    bestDistance = distance;
                    best = c;
                }
            }
            if (labels[i] != best) {
                labels[i] = best;
                changed = true;
            }
        }
        return changed;
    }

    /** The point farthest from its centroid among clusters of two or more points (no cluster may empty), or -1. */
    private static int farthestFromItsCentroid(float[][] points, double[][] centroids, int[] labels, int[] counts) {
        int farthest = -1;
        double largest = 0;
        for (int i = 0; i < points.length; i++) {
            if (counts[labels[i]] < 2) {
                continue;
            }
            double distance = squaredDistance(points[i], centroids[labels[i]]);
            if (distance > largest) {
                largest = distance;
                farthest = i;
            }
        }
        return farthest;
    }

    public static double squaredDistance(float[] point, double[] centroid) {
        double sum = 0;
        for (int j = 0; j < point.length; j++) {
            double difference = point[j] - centroid[j];
            sum += difference * difference;
        }
        return sum;
    }

    private static double[] toDouble(float[] values) {
        double[] out = new double[values.length];
        for (int j = 0; j < values.length; j++) {
            out[j] = values[j];
        }
        return out;
    }
}
