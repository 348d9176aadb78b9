package dev.modalign.plugins.sbcl;

import dev.modalign.clustering.KMeans;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One clustering of the memory into subclasses (section 3 of "Subclass-balancing Contrastive Learning
 * for Long-tailed Recognition", Hou, Zhang, Wang and Zhou, ICCV 2023): each class c with n_c records
 * is split by k-means into k_c = max(1, floor(n_c / M)) subclasses, M being about the size of the tail
 * classes, so that head classes become several subclasses of tail-class size and a tail class stays
 * one. With each class goes its class-level temperature.
 *
 * <p>Plain Java state of the loss, not parameters: deterministic for a seed, not checkpointed.
 */
final class Subclasses {

    /** PCL's smoothing alpha in the concentration n_c * log(n_c + alpha), which SBCL's code uses. */
    static final double CONCENTRATION_ALPHA = 10;

    /** The percentiles of the class concentrations that clip them, as SBCL's code (after PCL) does. */
    static final double LOW_PERCENTILE = 10;
    static final double HIGH_PERCENTILE = 90;

    /**
     * How a clustering is made.
     *
     * @param subclassSize M, or null for the smallest class's count in the memory, at least {@code
     *     minSubclassSize}
     * @param minSubclassSize the floor of M when it is taken from the memory
     * @param iterations the most k-means iterations
     * @param restarts the number of seeded k-means restarts, the lowest inertia kept
     * @param classTemperature t2: the class-level temperature (the mean of the adaptive ones)
     * @param adaptive whether t2 follows each class's concentration
     */
    record Settings(Integer subclassSize, int minSubclassSize, int iterations, int restarts, double classTemperature,
            boolean adaptive) {}

    /**
     * One class of a clustering.
     *
     * @param centroids [k_c][F], the subclass centroids
     * @param size n_c, the class's records in the memory
     * @param concentration mean distance of the records to their class mean over log(n_c + 10)
     * @param temperature the class-level temperature of the class's anchors
     */
    record ClassSubclasses(float[][] centroids, int size, double concentration, double temperature) {}

    private final Map<Long, ClassSubclasses> classes;
    private final int subclassSize;
    private final double defaultTemperature;

    Subclasses(Map<Long, ClassSubclasses> classes, int subclassSize, double defaultTemperature) {
        this.classes = Collections.unmodifiableMap(new TreeMap<>(classes));
        this.subclassSize = subclassSize;
        this.defaultTemperature = defaultTemperature;
    }

    /**
     * Clusters the records of each class. {@code seed} seeds this round; each class's k-means gets a seed
     * mixed from it and the class label, so that the result does not depend on the order of the classes.
     */
    static Subclasses fit(float[][] features, long[] labels, Settings settings, long seed) {
        if (features.length != labels.length) {
            throw new IllegalArgumentException(features.length + " features but " + labels.length + " labels");
        }
        Map<Long, List<float[]>> byClass = new TreeMap<>();
        for (int i = 0; i < features.length; i++) {
            byClass.computeIfAbsent(labels[i], label -> new ArrayList<>()).add(features[i]);
        }
        if (byClass.isEmpty()) {
            return new Subclasses(Map.of(), settings.subclassSize() == null ? settings.minSubclassSize()
                    : settings.subclassSize(), settings.classTemperature());
        }
        int smallest = byClass.values().stream().mapToInt(List::size).min().orElseThrow();
        int m = settings.subclassSize() != null ? settings.subclassSize()
                : Math.max(smallest, settings.minSubclassSize());

        Map<Long, float[][]> centroids = new TreeMap<>();
        Map<Long, Double> concentrations = new TreeMap<>();
        for (Map.Entry<Long, List<float[]>> entry : byClass.entrySet()) {
            float[][] points = entry.getValue().toArray(new float[0][]);
            int k = Math.max(1, points.length / m);
            float[][] mean = {mean(points)};
            centroids.put(entry.getKey(), k == 1 ? mean
                    : KMeans.fit(points, k, settings.iterations(), settings.restarts(), mix(seed, entry.getKey()))
                            .centroids());
            concentrations.put(entry.getKey(), concentration(points, mean[0]));
        }

        double[] clipped = clippedConcentrations(concentrations.values().stream().mapToDouble(Double::doubleValue)
                .toArray());
        double meanConcentration = Arrays.stream(clipped).average().orElse(0);
        Map<Long, ClassSubclasses> classes = new TreeMap<>();
        int index = 0;
        for (Map.Entry<Long, float[][]> entry : centroids.entrySet()) {
            float[][] classCentroids = entry.getValue();
            double phi = clipped[index++];
            // One subclass: a tail class, whose class level is at the base temperature (as in SBCL's code); a
            // concentration of 0 (all of a class's records equal) would give a temperature of 0.
            boolean adaptive = settings.adaptive() && classCentroids.length > 1 && phi > 0 && meanConcentration > 0;
            double temperature = adaptive ? settings.classTemperature() * phi / meanConcentration
                    : settings.classTemperature();
            classes.put(entry.getKey(), new ClassSubclasses(classCentroids, byClass.get(entry.getKey()).size(),
                    concentrations.get(entry.getKey()), temperature));
        }
        return new Subclasses(classes, m, settings.classTemperature());
    }

    /** The subclass of a record of class {@code label}: its nearest centroid (ties to the lower), 0 for an unseen class. */
    int assign(long label, float[] feature) {
        ClassSubclasses clusters = classes.get(label);
        if (clusters == null) {
            return 0;
        }
        int best = 0;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (int c = 0; c < clusters.centroids().length; c++) {
            double distance = 0;
            float[] centroid = clusters.centroids()[c];
            for (int j = 0; j < feature.length; j++) {
                double difference = feature[j] - (double) centroid[j];
                distance += difference * difference;
            }
            if (distance < bestDistance) {
                bestDistance = distance;
                best = c;
            }
        }
        return best;
    }

    /** The class-level temperature of a record of class {@code label}; the base one for a class not clustered. */
    double temperature(long label) {
        ClassSubclasses clusters = classes.get(label);
        return clusters == null ? defaultTemperature : clusters.temperature();
    }

    /** The classes of the clustering by label. */
    Map<Long, ClassSubclasses> classes() {
        return classes;
    }

    /** M, the subclass size the clustering aimed at. */
    /** The class-level temperature of an anchor whose class has no subclasses. */
    double defaultTemperature() {
        return defaultTemperature;
    }

    int subclassSize() {
        return subclassSize;
    }

    /** The number of subclasses over all classes. */
    int count() {
        return classes.values().stream().mapToInt(c -> c.centroids().length).sum();
    }

    /**
     * The concentration of PCL ("Prototypical Contrastive Learning of Unsupervised Representations", Li et
     * al., ICLR 2021, Eq. 12) that SBCL's code computes per class: the mean distance of the records to their
     * mean, over log(n + alpha) with alpha = 10. A class spread wider gets a higher class-level temperature.
     */
    static double concentration(float[][] points, float[] mean) {
        double total = 0;
        for (float[] point : points) {
            double squared = 0;
            for (int j = 0; j < point.length; j++) {
                double difference = point[j] - (double) mean[j];
                squared += difference * difference;
            }
            total += Math.sqrt(squared);
        }
        return total / points.length / Math.log(points.length + CONCENTRATION_ALPHA);
    }

    /** The concentrations clipped to their 10th and 90th percentiles (linear interpolation, as numpy's default). */
    static double[] clippedConcentrations(double[] values) {
        double low = percentile(values, LOW_PERCENTILE);
        double high = percentile(values, HIGH_PERCENTILE);
        return Arrays.stream(values).map(v -> Math.min(high, Math.max(low, v))).toArray();
    }

    static double percentile(double[] values, double percent) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        double position = percent / 100 * (sorted.length - 1);
        int below = (int) Math.floor(position);
        int above = Math.min(below + 1, sorted.length - 1);
        return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
    }

    private static float[] mean(float[][] points) {
        double[] sums = new double[points[0].length];
        for (float[] point : points) {
            for (int j = 0; j < point.length; j++) {
                sums[j] += point[j];
            }
        }
        float[] mean = new float[sums.length];
        for (int j = 0; j < sums.length; j++) {
            mean[j] = (float) (sums[j] / points.length);
        }
        return mean;
    }

    /** A seed mixed from another and a number (a round, a class label): SplitMix64's finaliser. */
    static long mix(long seed, long label) {
        long z = seed + 0x9E3779B97F4A7C15L * (1 + 2 * label);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
