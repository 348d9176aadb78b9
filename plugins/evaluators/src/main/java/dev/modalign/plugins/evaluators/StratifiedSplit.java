package dev.modalign.plugins.evaluators;

import dev.modalign.api.InvalidParamException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * A seeded split of labelled records into a fit part and a test part, class by class, so that both
 * parts keep the classes' proportions: each class's records are shuffled by one generator seeded
 * with the run's seed (classes in label order) and {@code round(test_fraction x n)} of them go to the
 * test part. A class with two or more records has at least one in each part; a class with one
 * record keeps it in the fit part, where it can at least be learnt (a class without a fit record can
 * never be predicted).
 *
 * <p>The same labels, fraction and seed always give the same split, so the probe, k-NN and few-shot
 * evaluators of a run score the same test records.
 *
 * @param fit the fit part's record indices, ascending
 * @param test the test part's record indices, ascending
 */
record StratifiedSplit(int[] fit, int[] test) {

    /** Splits records 0 .. labels.length - 1 by their labels. */
    static StratifiedSplit of(int[] labels, double testFraction, long seed) {
        Map<Integer, List<Integer>> byClass = new TreeMap<>();
        for (int i = 0; i < labels.length; i++) {
            byClass.computeIfAbsent(labels[i], c -> new ArrayList<>()).add(i);
        }
        Random random = new Random(seed);
        List<Integer> fit = new ArrayList<>();
        List<Integer> test = new ArrayList<>();
        for (List<Integer> members : byClass.values()) {
            Collections.shuffle(members, random);
            int n = members.size();
            int inTest = n < 2 ? 0 : Math.max(1, Math.min(n - 1, (int) Math.round(testFraction * n)));
            test.addAll(members.subList(0, inTest));
            fit.addAll(members.subList(inTest, n));
        }
        return new StratifiedSplit(sorted(fit), sorted(test));
    }

    /** Fails with what to do when no class had two records to split, so nothing is held out. */
    StratifiedSplit requireTestRecords(String evaluator) {
        if (test.length == 0) {
            throw new IllegalArgumentException(evaluator + " holds out records of each class to test on, but no class has"
                    + " two or more evaluation records; evaluate on a larger data.eval");
        }
        return this;
    }

    /** The rows of {@code rows} at {@code indices}, shared, not copied. */
    static float[][] rows(float[][] rows, int[] indices) {
        float[][] picked = new float[indices.length][];
        for (int i = 0; i < indices.length; i++) {
            picked[i] = rows[indices[i]];
        }
        return picked;
    }

    /** The labels at {@code indices}. */
    static int[] labels(int[] labels, int[] indices) {
        int[] picked = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            picked[i] = labels[indices[i]];
        }
        return picked;
    }

    /** Checks a fraction parameter of a split: strictly between 0 and 1. */
    static double checkFraction(String key, double value) {
        if (!(value > 0 && value < 1)) {
            throw new InvalidParamException(key, "is the fraction of records held out, strictly between 0 and 1, found "
                    + value + "; e.g. 0.5");
        }
        return value;
    }

    private static int[] sorted(List<Integer> indices) {
        int[] array = indices.stream().mapToInt(Integer::intValue).toArray();
        Arrays.sort(array);
        return array;
    }
}
