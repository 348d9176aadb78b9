package dev.modalign.clustering;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** KMeans on data whose clustering is known. */
class KMeansTest {

    private static final int CLUSTERS = 5;
    private static final int PER_CLUSTER = 30;
    private static final int DIM = 8;

    /** Points around 5 centres 10 apart with spread 0.3, in shuffled order, and each point's true cluster. */
    private record Blobs(float[][] points, int[] truth) {}

    private static Blobs blobs(long seed) {
        Random random = new Random(seed);
        double[][] centres = new double[CLUSTERS][DIM];
        for (int c = 0; c < CLUSTERS; c++) {
            centres[c][c] = 10; // the centres are 10 * e_c, sqrt(200) apart
        }
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < CLUSTERS * PER_CLUSTER; i++) {
            order.add(i);
        }
        Collections.shuffle(order, random);
        float[][] points = new float[order.size()][DIM];
        int[] truth = new int[order.size()];
        for (int slot = 0; slot < order.size(); slot++) {
            int cluster = order.get(slot) / PER_CLUSTER;
            truth[slot] = cluster;
            for (int j = 0; j < DIM; j++) {
                points[slot][j] = (float) (centres[cluster][j] + 0.3 * random.nextGaussian());
            }
        }
        return new Blobs(points, truth);
    }

    @Test
    void recoversWellSeparatedClustersAndTheirMeans() {
        Blobs blobs = blobs(3);
        for (long seed = 0; seed < 5; seed++) {
            KMeans.Result result = KMeans.fit(blobs.points(), CLUSTERS, 20, 3, seed);
            // The found clusters are the true ones up to renaming: one found label per true cluster and back.
            Map<Integer, Integer> foundForTrue = new HashMap<>();
            Map<Integer, Integer> trueForFound = new HashMap<>();
            for (int i = 0; i < blobs.truth().length; i++) {
                Integer before = foundForTrue.putIfAbsent(blobs.truth()[i], result.labels()[i]);
                assertTrue(before == null || before == result.labels()[i], "seed " + seed + ": true cluster "
                        + blobs.truth()[i] + " split between found clusters " + before + " and " + result.labels()[i]);
                Integer back = trueForFound.putIfAbsent(result.labels()[i], blobs.truth()[i]);
                assertTrue(back == null || back == blobs.truth()[i], "seed " + seed + ": found cluster "
                        + result.labels()[i] + " merges true clusters " + back + " and " + blobs.truth()[i]);
            }
            assertEquals(CLUSTERS, foundForTrue.size());
            // Each centroid is its members' mean, and the inertia is the sum of squared distances to it.
            double inertia = 0;
            for (int c = 0; c < CLUSTERS; c++) {
                double[] mean = new double[DIM];
                int count = 0;
                for (int i = 0; i < blobs.points().length; i++) {
                    if (result.labels()[i] == c) {
                        count++;
                        for (int j = 0; j < DIM; j++) {
                            mean[j] += blobs.points()[i][j];
                        }
                    }
                }
                assertEquals(PER_CLUSTER, count);
                for (int j = 0; j < DIM; j++) {
                    assertEquals(mean[j] / count, result.centroids()[c][j], 1e-5, "centroid " + c + " is its mean");
                }
                for (int i = 0; i < blobs.points().length; i++) {
                    if (result.labels()[i] == c) {
                        for (int j = 0; j < DIM; j++) {
                            double d = blobs.points()[i][j] - mean[j] / count;
                            inertia += d * d;
                        }
                    }
                }
            }
            assertEquals(inertia, result.inertia(), 1e-6 * inertia);
        }
    }

    @Test
    void theSameSeedGivesTheSameClustering() {
        Blobs blobs = blobs(4);
        // Two clusters for five blobs: many local optima, so the seed matters and must be honoured.
        KMeans.Result first = KMeans.fit(blobs.points(), 2, 20, 1, 42);
        KMeans.Result second = KMeans.fit(blobs.points(), 2, 20, 1, 42);
        assertArrayEquals(first.labels(), second.labels());
        assertArrayEquals(first.centroids(), second.centroids());
    }

    @Test
    void restartsKeepTheLowestInertia() {
        Blobs blobs = blobs(5);
        double single = Double.POSITIVE_INFINITY;
        for (long seed = 0; seed < 10; seed++) {
            single = Math.min(single, KMeans.fit(blobs.points(), 3, 20, 1, seed).inertia());
        }
        double restarted = KMeans.fit(blobs.points(), 3, 20, 10, 0).inertia();
        assertTrue(restarted <= single * (1 + 1e-9), "10 restarts " + restarted + " vs best single run " + single);
    }

    @Test
    void asManyClustersAsPointsPutsEachPointInItsOwn() {
        float[][] points = {{0, 0}, {1, 0}, {0, 1}, {5, 5}};
        KMeans.Result result = KMeans.fit(points, 4, 20, 1, 1);
        assertEquals(0, result.inertia(), 1e-12);
        assertEquals(4, java.util.Arrays.stream(result.labels()).distinct().count());
    }

    @Test
    void duplicatePointsDoNotBreakIt() {
        float[][] points = {{1, 1}, {1, 1}, {1, 1}, {2, 2}, {2, 2}};
        KMeans.Result result = KMeans.fit(points, 3, 20, 2, 1);
        for (float[] centroid : result.centroids()) {
            for (float value : centroid) {
                assertTrue(Float.isFinite(value), "centroids stay finite with fewer distinct points than clusters");
            }
        }
        assertEquals(0, result.inertia(), 1e-12);
    }

    @Test
    void rejectsMoreClustersThanPoints() {
        assertThrows(IllegalArgumentException.class, () -> KMeans.fit(new float[][] {{1}, {2}}, 3, 10, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> KMeans.fit(new float[][] {{1}, {2}}, 0, 10, 1, 0));
    }
}
