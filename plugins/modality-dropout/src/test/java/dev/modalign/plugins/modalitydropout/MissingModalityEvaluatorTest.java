package dev.modalign.plugins.modalitydropout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** MissingModalityEvaluator on cases worked by hand: retrieval and classification with all towers and without one. */
class MissingModalityEvaluatorTest extends ManagerPerTest {

    @Test
    void retrievalFromFusedTowersAndWithEachMissing() {
        // Four records at 0, 90, 180 and 270 degrees in tower c; tower a turns each by +50 degrees, tower b by -50.
        // Fusing a and b gives c's direction exactly: a and b together find every record in c. Alone, a's record
        // i is 40 degrees from c's record i + 1 and 50 from its own, so it ranks its own second (b likewise with
        // record i - 1). For target a the fused query of b and c points at -25 degrees: 15 from a's record i - 1,
        // 75 from its own, rank 2; target b likewise.
        FixedEvalContext context = new FixedEvalContext(manager);
        context.tower("a", turned(50)).tower("b", turned(-50)).tower("c", turned(0)).towers("a", "b", "c");
        Map<String, Double> metrics = evaluate(List.of("a", "b", "c"), 1, context);
        assertEquals(1.0, metrics.get("to_c/all/R_at_1"), 1e-9);
        assertEquals(1.0, metrics.get("to_c/all/MRR"), 1e-9);
        for (String missing : List.of("a", "b")) {
            String prefix = "to_c/without_" + missing + "/";
            assertEquals(0.0, metrics.get(prefix + "R_at_1"), 1e-9, prefix);
            assertEquals(1.0, metrics.get(prefix + "R_at_5"), 1e-9, prefix);
            assertEquals(0.5, metrics.get(prefix + "MRR"), 1e-9, prefix);
            assertEquals(1.0, metrics.get(prefix + "drop_R_at_1"), 1e-9, prefix);
            assertEquals(0.5, metrics.get(prefix + "drop_MRR"), 1e-9, prefix);
        }
        assertEquals(0.0, metrics.get("to_a/all/R_at_1"), 1e-9);
        assertEquals(0.5, metrics.get("to_a/all/MRR"), 1e-9);
        assertEquals(0.0, metrics.get("to_b/all/R_at_1"), 1e-9);
        // Averaged over the three targets: only c is found from the others.
        assertEquals(1.0 / 3, metrics.get("retrieval/all/R_at_1"), 1e-9);
        // Without a: targets b (query c alone) and c (query b alone).
        assertEquals((metrics.get("to_b/without_a/R_at_1") + metrics.get("to_c/without_a/R_at_1")) / 2,
                metrics.get("retrieval/without_a/R_at_1"), 1e-9);
        assertTrue(metrics.keySet().stream().noneMatch(key -> key.startsWith("classify/")),
                "classification needs labels, and this set has none");
    }

    @Test
    void classificationFromFusedTowersAndWithEachMissing() {
        // Records 0, 1 (label 0) and 2, 3 (label 1) fuse to 0, 10, 90 and 100 degrees: each one's nearest
        // neighbour shares its label. Tower a turns them by +45, -45, +45, -45 degrees (45, -35, 135, 55), tower b
        // by the opposite (-45, 55, 45, 145), so a + b points the fused way. With one neighbour voting, a alone
        // gets records 1 and 2 right (a0's nearest is a3, a3's is a0), and b alone none.
        FixedEvalContext context = new FixedEvalContext(manager);
        context.tower("a", unit(45, -35, 135, 55)).tower("b", unit(-45, 55, 45, 145)).labels(0, 0, 1, 1)
                .towers("a", "b");
        Map<String, Double> metrics = evaluate(List.of("a", "b"), 1, context);
        assertEquals(1.0, metrics.get("classify/all/accuracy"), 1e-9);
        assertEquals(0.5, metrics.get("classify/without_b/accuracy"), 1e-9);
        assertEquals(0.5, metrics.get("classify/without_b/drop"), 1e-9);
        assertEquals(0.0, metrics.get("classify/without_a/accuracy"), 1e-9);
        assertEquals(1.0, metrics.get("classify/without_a/drop"), 1e-9);
        // With two towers, leaving one out of a query leaves nothing to query with: no retrieval without.
        assertTrue(metrics.containsKey("to_b/all/R_at_1"));
        assertTrue(metrics.keySet().stream().noneMatch(key -> key.startsWith("to_") && key.contains("/without_")),
                metrics.keySet().toString());
    }

    @Test
    void recordsOfTheQuerysOwnGroupAreNotItsNeighbours() {
        // Records 0 and 1 are one item (group g), 2 another; each tower sees them alike. Without groups, 0 and 1
        // are each other's nearest neighbour and right; as one item they must look further, to 2, and are wrong;
        // 2's nearest is 1, of the other label.
        float[][] rows = {{1, 0}, {0.99f, 0.14f}, {0, 1}};
        FixedEvalContext grouped = new FixedEvalContext(manager);
        grouped.tower("a", rows).tower("b", rows).labels(0, 0, 1).groupIds("g", "g", "h").towers("a", "b");
        assertEquals(0.0, evaluate(List.of("a", "b"), 1, grouped).get("classify/all/accuracy"), 1e-9);
        FixedEvalContext separate = new FixedEvalContext(manager);
        separate.tower("a", rows).tower("b", rows).labels(0, 0, 1).groupIds("g", "f", "h").towers("a", "b");
        assertEquals(2.0 / 3, evaluate(List.of("a", "b"), 1, separate).get("classify/all/accuracy"), 1e-9);
        // Retrieval counts either record of group g as a hit.
        assertEquals(1.0, evaluate(List.of("a", "b"), 1, grouped).get("to_b/all/R_at_1"), 1e-9);
    }

    @Test
    void everyConditionMatchesABruteForceComputationOnRandomTowers() {
        // Three towers of 30 records in 10 groups of 3 (as spoken captions: one image, three voices), labels by
        // group; every condition recomputed here in double precision with plain loops.
        Random random = new Random(4);
        int records = 30;
        String[] names = {"image", "audio", "text"};
        float[][][] towers = new float[3][records][6];
        long[] labels = new long[records];
        String[] groups = new String[records];
        for (int i = 0; i < records; i++) {
            labels[i] = (i / 3) % 4;
            groups[i] = "item" + i / 3;
            for (int t = 0; t < 3; t++) {
                for (int d = 0; d < 6; d++) {
                    towers[t][i][d] = (float) (random.nextGaussian() + (d == labels[i] ? 1.5 : 0));
                }
            }
        }
        FixedEvalContext context = new FixedEvalContext(manager);
        for (int t = 0; t < 3; t++) {
            context.tower(names[t], towers[t]);
        }
        context.labels(labels).groupIds(groups).towers(names);
        Map<String, Double> metrics = evaluate(List.of(names), 3, context);
        int[] all = {0, 1, 2};
        assertEquals(bruteAccuracy(towers, all, labels, groups, 3), metrics.get("classify/all/accuracy"), 1e-9);
        for (int missing = 0; missing < 3; missing++) {
            final int m = missing;
            int[] kept = IntStream.range(0, 3).filter(t -> t != m).toArray();
            assertEquals(bruteAccuracy(towers, kept, labels, groups, 3),
                    metrics.get("classify/without_" + names[m] + "/accuracy"), 1e-9, names[m]);
            for (int target = 0; target < 3; target++) {
                if (target == m) {
                    continue;
                }
                final int g = target;
                int[] query = IntStream.range(0, 3).filter(t -> t != m && t != g).toArray();
                assertEquals(bruteRecallAt1(towers, query, target, groups),
                        metrics.get("to_" + names[target] + "/without_" + names[m] + "/R_at_1"), 1e-9);
            }
        }
    }

    /** Unit vector of the mean of the towers' unit rows, in double. */
    private static double[] fused(float[][][] towers, int[] which, int row) {
        double[] sum = new double[towers[0][row].length];
        for (int t : which) {
            double norm = 0;
            for (float v : towers[t][row]) {
                norm += v * v;
            }
            for (int d = 0; d < sum.length; d++) {
                sum[d] += towers[t][row][d] / Math.sqrt(norm);
            }
        }
        double norm = 0;
        for (double v : sum) {
            norm += v * v;
        }
        for (int d = 0; d < sum.length; d++) {
            sum[d] /= Math.sqrt(norm);
        }
        return sum;
    }

    private static double dot(double[] x, double[] y) {
        double sum = 0;
        for (int d = 0; d < x.length; d++) {
            sum += x[d] * y[d];
        }
        return sum;
    }

    private static double bruteAccuracy(float[][][] towers, int[] which, long[] labels, String[] groups, int knn) {
        int records = labels.length;
        int correct = 0;
        for (int i = 0; i < records; i++) {
            double[] query = fused(towers, which, i);
            List<double[]> candidates = new ArrayList<>();
            for (int j = 0; j < records; j++) {
                if (!groups[j].equals(groups[i])) {
                    candidates.add(new double[] {dot(query, fused(towers, which, j)), j});
                }
            }
            candidates.sort((x, y) -> x[0] != y[0] ? Double.compare(y[0], x[0]) : Double.compare(x[1], y[1]));
            Map<Long, Integer> votes = new HashMap<>();
            Map<Long, Double> weights = new HashMap<>();
            for (int n = 0; n < knn; n++) {
                long label = labels[(int) candidates.get(n)[1]];
                votes.merge(label, 1, Integer::sum);
                weights.merge(label, candidates.get(n)[0], Double::sum);
            }
            long best = -1;
            for (long label : votes.keySet()) {
                if (best < 0 || votes.get(label) > votes.get(best)
                        || (votes.get(label).equals(votes.get(best)) && weights.get(label) > weights.get(best))) {
                    best = label;
                }
            }
            correct += best == labels[i] ? 1 : 0;
        }
        return (double) correct / records;
    }

    private static double bruteRecallAt1(float[][][] towers, int[] query, int target, String[] groups) {
        int records = groups.length;
        int hits = 0;
        for (int i = 0; i < records; i++) {
            double[] q = fused(towers, query, i);
            double bestPositive = Double.NEGATIVE_INFINITY;
            double bestNegative = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < records; j++) {
                double s = dot(q, fused(towers, new int[] {target}, j));
                if (groups[j].equals(groups[i])) {
                    bestPositive = Math.max(bestPositive, s);
                } else {
                    bestNegative = Math.max(bestNegative, s);
                }
            }
            hits += bestPositive > bestNegative ? 1 : 0;
        }
        return (double) hits / records;
    }

    @Test
    void rejectsBadParametersAndTowersByTheirKeys() {
        assertEquals("k", assertThrows(InvalidParamException.class,
                () -> new MissingModalityEvaluator.Params(List.of(), 5, 16)).key());
        assertEquals("k", assertThrows(InvalidParamException.class,
                () -> new MissingModalityEvaluator.Params(List.of(1, 0), 5, 16)).key());
        assertEquals("k", assertThrows(InvalidParamException.class,
                () -> new MissingModalityEvaluator.Params(List.of(1, 1), 5, 16)).key());
        assertEquals("knn", assertThrows(InvalidParamException.class,
                () -> new MissingModalityEvaluator.Params(List.of(1), 0, 16)).key());
        assertEquals("block_size", assertThrows(InvalidParamException.class,
                () -> new MissingModalityEvaluator.Params(List.of(1), 5, 0)).key());
        MissingModalityEvaluator.Params params = new MissingModalityEvaluator.Params(List.of(1), 5, 16);
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> new MissingModalityEvaluator(params,
                TestContext.builder().optTowers(List.of("a"), 4).build())).key());
        assertEquals("towers", assertThrows(InvalidParamException.class, () -> new MissingModalityEvaluator(params,
                TestContext.builder().optTowers(List.of("a", "a"), 4).build())).key());
    }

    @Test
    void towersOfDifferentSizesAreRefusedWithTheFix() {
        FixedEvalContext context = new FixedEvalContext(manager);
        context.tower("a", new float[][] {{1, 0}, {0, 1}}).tower("b", new float[][] {{1, 0, 0}, {0, 1, 0}})
                .towers("a", "b");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> evaluate(List.of("a", "b"), 1, context));
        assertTrue(error.getMessage().contains("embed_dim"), error.getMessage());
    }

    private Map<String, Double> evaluate(List<String> towers, int knn, FixedEvalContext context) {
        Evaluator evaluator = ModalityDropoutPlugin.MISSING_MODALITY.create(
                new MissingModalityEvaluator.Params(List.of(1, 5), knn, 2),
                TestContext.builder().optTowers(towers, 2).build());
        EvalResult result = evaluator.evaluate(context);
        return result.metrics();
    }

    /** Unit vectors at 0, 90, 180 and 270 degrees, each turned by {@code degrees}. */
    private static float[][] turned(double degrees) {
        return unit(degrees, 90 + degrees, 180 + degrees, 270 + degrees);
    }

    private static float[][] unit(double... degrees) {
        float[][] rows = new float[degrees.length][];
        for (int i = 0; i < degrees.length; i++) {
            double radians = Math.toRadians(degrees[i]);
            rows[i] = new float[] {(float) Math.cos(radians), (float) Math.sin(radians)};
        }
        return rows;
    }
}
