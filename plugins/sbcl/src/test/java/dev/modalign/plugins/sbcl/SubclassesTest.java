package dev.modalign.plugins.sbcl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The clustering of a labelled memory into subclasses, on data whose structure is known. */
class SubclassesTest {

    private static final int DIM = 8;

    /** A memory, each row's class and, for the class, the group it was drawn from. */
    private record Memory(float[][] features, long[] labels, int[] groups) {}

    /**
     * Class 7 drawn from 3 groups of 10 (centres 10 e0, 10 e1, 10 e2), class 2 from one group of 10 (10 e3)
     * and class 5 from one of 12 (10 e4); spread 0.3, rows shuffled.
     */
    private static Memory longTail(long seed) {
        Random random = new Random(seed);
        List<long[]> rows = new ArrayList<>(); // {label, group, axis}
        for (int group = 0; group < 3; group++) {
            for (int i = 0; i < 10; i++) {
                rows.add(new long[] {7, group, group});
            }
        }
        for (int i = 0; i < 10; i++) {
            rows.add(new long[] {2, 0, 3});
        }
        for (int i = 0; i < 12; i++) {
            rows.add(new long[] {5, 0, 4});
        }
        java.util.Collections.shuffle(rows, random);
        float[][] features = new float[rows.size()][DIM];
        long[] labels = new long[rows.size()];
        int[] groups = new int[rows.size()];
        for (int r = 0; r < rows.size(); r++) {
            labels[r] = rows.get(r)[0];
            groups[r] = (int) rows.get(r)[1];
            for (int j = 0; j < DIM; j++) {
                features[r][j] = (float) ((j == rows.get(r)[2] ? 10 : 0) + 0.3 * random.nextGaussian());
            }
        }
        return new Memory(features, labels, groups);
    }

    private static Subclasses.Settings settings(Integer subclassSize, int minSubclassSize, boolean adaptive) {
        return new Subclasses.Settings(subclassSize, minSubclassSize, 20, 3, 0.1, adaptive);
    }

    @Test
    void splitsTheHeadClassIntoItsGroupsAndKeepsTailClassesWhole() {
        Memory memory = longTail(3);
        for (long seed = 0; seed < 5; seed++) {
            // M = the smallest class count, 10: class 7 (30 records) gets 3 subclasses, the others one.
            Subclasses subclasses = Subclasses.fit(memory.features(), memory.labels(), settings(null, 5, true), seed);
            assertEquals(10, subclasses.subclassSize());
            assertEquals(3, subclasses.classes().get(7L).centroids().length);
            assertEquals(1, subclasses.classes().get(2L).centroids().length);
            assertEquals(1, subclasses.classes().get(5L).centroids().length);
            assertEquals(30, subclasses.classes().get(7L).size());
            assertEquals(5, subclasses.count());
            // The subclasses of class 7 are its groups up to renaming: one subclass per group and back.
            Map<Integer, Integer> subclassOfGroup = new HashMap<>();
            Map<Integer, Integer> groupOfSubclass = new HashMap<>();
            for (int r = 0; r < memory.labels().length; r++) {
                int subclass = subclasses.assign(memory.labels()[r], memory.features()[r]);
                if (memory.labels()[r] != 7) {
                    assertEquals(0, subclass, "a one-subclass class");
                    continue;
                }
                Integer before = subclassOfGroup.putIfAbsent(memory.groups()[r], subclass);
                assertTrue(before == null || before == subclass, "seed " + seed + ": group " + memory.groups()[r]
                        + " split between subclasses " + before + " and " + subclass);
                Integer back = groupOfSubclass.putIfAbsent(subclass, memory.groups()[r]);
                assertTrue(back == null || back == memory.groups()[r], "seed " + seed + ": subclass " + subclass
                        + " merges groups " + back + " and " + memory.groups()[r]);
            }
            assertEquals(3, subclassOfGroup.size());
        }
    }

    @Test
    void theSubclassCountIsTheFloorOfTheClassCountOverM() {
        Memory memory = longTail(4);
        // Given M = 15: class 7 gets floor(30 / 15) = 2, class 5 floor(12 / 15) -> 1.
        Subclasses given = Subclasses.fit(memory.features(), memory.labels(), settings(15, 5, true), 1);
        assertEquals(15, given.subclassSize());
        assertEquals(2, given.classes().get(7L).centroids().length);
        assertEquals(1, given.classes().get(5L).centroids().length);
        // M from the memory, floored at min_subclass_size: max(10, 11) = 11 -> floor(30 / 11) = 2.
        Subclasses floored = Subclasses.fit(memory.features(), memory.labels(), settings(null, 11, true), 1);
        assertEquals(11, floored.subclassSize());
        assertEquals(2, floored.classes().get(7L).centroids().length);
        // M = 1: every record of class 7 would be its own subclass.
        Subclasses singletons = Subclasses.fit(memory.features(), memory.labels(), settings(1, 1, true), 1);
        assertEquals(30, singletons.classes().get(7L).centroids().length);
    }

    @Test
    void theSameSeedGivesTheSameSubclasses() {
        Memory memory = longTail(5);
        // Two subclasses for three groups: several local optima, so the seed matters and must be honoured.
        Subclasses first = Subclasses.fit(memory.features(), memory.labels(), settings(15, 1, true), 42);
        Subclasses second = Subclasses.fit(memory.features(), memory.labels(), settings(15, 1, true), 42);
        assertArrayEquals(first.classes().get(7L).centroids(), second.classes().get(7L).centroids());
        assertEquals(first.temperature(7L), second.temperature(7L), 0);
    }

    /**
     * Four classes on the first axis: A at +-1, B at +-2, C at +-4 (two of each, n = 4), D at +-3 (one of
     * each, n = 2). With M = 2, A, B and C get two subclasses and D one. Every record is at its class's
     * spread from the mean (0), so the concentrations are a / log(n + 10): A = 1/ln 14, B = 2/ln 14,
     * C = 4/ln 14, D = 3/ln 12. In order A < B < D < C the 10th percentile is at position 0.3, A + 0.3
     * (B - A), and the 90th at 2.7, D + 0.7 (C - D); A and C are clipped to them; each temperature is
     * 0.1 times the clipped concentration over the clipped mean, but D, one subclass, keeps 0.1.
     */
    @Test
    void classTemperaturesFollowTheClippedConcentrationsAndOneSubclassClassesKeepTheBase() {
        float[][] features = new float[14][2];
        long[] labels = new long[14];
        double[] spread = {1, 2, 4};
        int row = 0;
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 4; i++, row++) {
                features[row][0] = (float) (i % 2 == 0 ? spread[c] : -spread[c]);
                labels[row] = c;
            }
        }
        for (int i = 0; i < 2; i++, row++) {
            features[row][0] = i == 0 ? 3 : -3;
            labels[row] = 3;
        }
        Subclasses subclasses = Subclasses.fit(features, labels, settings(2, 1, true), 0);
        double a = 1 / Math.log(14);
        double b = 2 / Math.log(14);
        double c = 4 / Math.log(14);
        double d = 3 / Math.log(12);
        double low = a + 0.3 * (b - a);
        double high = d + 0.7 * (c - d);
        double mean = (low + b + high + d) / 4;
        assertEquals(a, subclasses.classes().get(0L).concentration(), 1e-9);
        assertEquals(d, subclasses.classes().get(3L).concentration(), 1e-9);
        assertEquals(0.1 * low / mean, subclasses.temperature(0L), 1e-9);
        assertEquals(0.1 * b / mean, subclasses.temperature(1L), 1e-9);
        assertEquals(0.1 * high / mean, subclasses.temperature(2L), 1e-9);
        assertEquals(0.1, subclasses.temperature(3L), 1e-12);
        assertEquals(1, subclasses.classes().get(3L).centroids().length);

        Subclasses fixed = Subclasses.fit(features, labels, settings(2, 1, false), 0);
        for (long label = 0; label < 4; label++) {
            assertEquals(0.1, fixed.temperature(label), 0, "without adaptive temperatures every class has t2");
        }
    }

    @Test
    void aClassNotInTheClusteringIsOneSubclassAtTheBaseTemperature() {
        Memory memory = longTail(6);
        Subclasses subclasses = Subclasses.fit(memory.features(), memory.labels(), settings(null, 5, true), 0);
        assertEquals(0, subclasses.assign(99, memory.features()[0]));
        assertEquals(0.1, subclasses.temperature(99), 0);
        Subclasses empty = Subclasses.fit(new float[0][], new long[0], settings(null, 5, true), 0);
        assertEquals(0, empty.count());
        assertEquals(0, empty.assign(1, new float[] {1, 2}));
    }

    @Test
    void percentilesInterpolateLinearlyAsNumpyDoes() {
        // numpy.percentile([3, 1, 4, 1, 5, 9, 2, 6], [10, 90, 50]) = [1.0, 6.9, 3.5]
        double[] values = {3, 1, 4, 1, 5, 9, 2, 6};
        assertEquals(1.0, Subclasses.percentile(values, 10), 1e-12);
        assertEquals(6.9, Subclasses.percentile(values, 90), 1e-12);
        assertEquals(3.5, Subclasses.percentile(values, 50), 1e-12);
        assertEquals(4.0, Subclasses.percentile(new double[] {4}, 90), 0);
    }
}
