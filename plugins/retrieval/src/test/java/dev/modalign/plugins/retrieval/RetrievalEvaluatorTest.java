package dev.modalign.plugins.retrieval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.EvalResult;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.TestContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Retrieval metrics on embeddings whose rankings are worked out by hand. */
class RetrievalEvaluatorTest {

    private static final double EXACT = 1e-12;
    private static final RetrievalEvaluator.Params DEFAULTS = new RetrievalEvaluator.Params(List.of(1, 5, 10), 1024);

    private NDManager manager;

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    @Test
    void perfectEmbeddingsRetrieveEveryQueryFirst() {
        float[][] images = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {0, 1, 1}};
        float[][] texts = new float[images.length][];
        for (int i = 0; i < images.length; i++) {
            texts[i] = new float[] {3 * images[i][0], 3 * images[i][1], 3 * images[i][2]};
        }
        Map<String, Double> metrics = evaluate(DEFAULTS, context(images, texts));
        for (String direction : List.of("image_to_text", "text_to_image")) {
            assertEquals(1.0, metrics.get(direction + "/R_at_1"), EXACT, direction);
            assertEquals(1.0, metrics.get(direction + "/MRR"), EXACT, direction);
            assertEquals(1.0 / 5, metrics.get(direction + "/chance_R_at_1"), EXACT, direction);
        }
    }

    @Test
    void metricNamesFollowTheTowerOrder() {
        Map<String, Double> metrics = evaluate(DEFAULTS, context(new float[][] {{1, 0}}, new float[][] {{0, 1}}));
        assertEquals(List.of("image_to_text/R_at_1", "image_to_text/R_at_5", "image_to_text/R_at_10", "image_to_text/MRR",
                "image_to_text/mAP", "image_to_text/chance_R_at_1", "text_to_image/R_at_1", "text_to_image/R_at_5",
                "text_to_image/R_at_10", "text_to_image/MRR", "text_to_image/mAP", "text_to_image/chance_R_at_1"),
                List.copyOf(metrics.keySet()));
    }

    /**
     * Scores chosen so the ranks are known. Image queries rank row i of the matrix; its positive is
     * the diagonal entry: 0.9 is first (rank 1), 0.6 is beaten by 0.8 (2), 0.2 by 0.7 and 0.4 (3),
     * 0.05 by all three others (4). Text queries rank column j: 0.9 first (1), 0.6 first (1), 0.2
     * beaten by both 0.3s (3), 0.05 beaten by 0.2 and 0.1 (3).
     */
    @Test
    void knownScoresGiveKnownRecallAndMeanReciprocalRank() {
        double[][] scores = {
            {0.9, 0.5, 0.1, 0.2},
            {0.8, 0.6, 0.3, 0.1},
            {0.7, 0.4, 0.2, 0.0},
            {0.1, 0.2, 0.3, 0.05},
        };
        RetrievalEvaluator.Params params = new RetrievalEvaluator.Params(List.of(1, 2, 3), 1024);
        Map<String, Double> metrics = evaluate(params, withCosines(scores));
        // image to text: ranks 1, 2, 3, 4
        assertEquals(1 / 4.0, metrics.get("image_to_text/R_at_1"), EXACT);
        assertEquals(2 / 4.0, metrics.get("image_to_text/R_at_2"), EXACT);
        assertEquals(3 / 4.0, metrics.get("image_to_text/R_at_3"), EXACT);
        assertEquals((1 + 1 / 2.0 + 1 / 3.0 + 1 / 4.0) / 4, metrics.get("image_to_text/MRR"), EXACT);
        // text to image: ranks 1, 1, 3, 3
        assertEquals(2 / 4.0, metrics.get("text_to_image/R_at_1"), EXACT);
        assertEquals(2 / 4.0, metrics.get("text_to_image/R_at_2"), EXACT);
        assertEquals(1.0, metrics.get("text_to_image/R_at_3"), EXACT);
        assertEquals((1 + 1 + 1 / 3.0 + 1 / 3.0) / 4, metrics.get("text_to_image/MRR"), EXACT);
        assertEquals(1 / 4.0, metrics.get("image_to_text/chance_R_at_1"), EXACT);
        // One positive per query: its average precision is 1 / rank, so mAP is MRR.
        assertEquals(metrics.get("image_to_text/MRR"), metrics.get("image_to_text/mAP"), EXACT);
        assertEquals(metrics.get("text_to_image/MRR"), metrics.get("text_to_image/mAP"), EXACT);

        // Naming the towers the other way round swaps the directions, values and all.
        Map<String, Double> swapped = evaluate(params, withCosines(scores).towers("text", "image"));
        assertEquals(metrics.get("text_to_image/MRR"), swapped.get("text_to_image/MRR"), EXACT);
        assertEquals(metrics.get("image_to_text/R_at_2"), swapped.get("image_to_text/R_at_2"), EXACT);
    }

    /**
     * Mean average precision worked out by hand. Records 0 and 1 are one item (group x), 2 and 3
     * are alone (y, z); the cosines are scores[image][text]. A query's AP is the mean over its
     * positives, best first, of j / r_j, where r_j = j + the non-positives scoring at least the j-th
     * positive (ties count against the query).
     *
     * <pre>
     * image to text (rows):
     *   image 0: positives t0 0.9, t1 0.2; t2 0.5 beats t1:       (1/1 + 2/3) / 2 = 5/6
     *   image 1: positives t1 0.4, t0 0.3; t2 0.6, t3 0.5 beat both: (1/3 + 2/4) / 2 = 5/12
     *   image 2: positive t2 0.4; t0 0.7 beats it:                 1/2
     *   image 3: positive t3 0.8, first:                           1
     *   mAP = (5/6 + 5/12 + 1/2 + 1) / 4 = 11/16
     * text to image (columns):
     *   text 0: positives i0 0.9, i1 0.3; i2 0.7 beats i1:         (1 + 2/3) / 2 = 5/6
     *   text 1: positives i1 0.4, i0 0.2; i3 0.2 ties with i0:     (1 + 2/3) / 2 = 5/6
     *   text 2: positive i2 0.4; i0 0.5 and i1 0.6 beat it:        1/3
     *   text 3: positive i3 0.8, first:                            1
     *   mAP = (5/6 + 5/6 + 1/3 + 1) / 4 = 3/4
     * </pre>
     */
    @Test
    void meanAveragePrecisionOverAllPositivesByHand() {
        double[][] scores = {
            {0.9, 0.2, 0.5, 0.1},
            {0.3, 0.4, 0.6, 0.5},
            {0.7, 0.1, 0.4, 0.2},
            {0.1, 0.2, 0.3, 0.8},
        };
        for (int blockSize : new int[] {1, 3, 1024}) {
            Map<String, Double> metrics = evaluate(new RetrievalEvaluator.Params(List.of(1), blockSize),
                    withCosines(scores).groupIds("x", "x", "y", "z"));
            assertEquals(11 / 16.0, metrics.get("image_to_text/mAP"), EXACT, "block_size " + blockSize);
            assertEquals(3 / 4.0, metrics.get("text_to_image/mAP"), EXACT, "block_size " + blockSize);
            // The best positives' ranks are 1, 3, 2, 1 and 1, 1, 3, 1: R@1 and MRR read the same ranking.
            assertEquals((1 + 1 / 3.0 + 1 / 2.0 + 1) / 4, metrics.get("image_to_text/MRR"), EXACT);
            assertEquals((1 + 1 + 1 / 3.0 + 1) / 4, metrics.get("text_to_image/MRR"), EXACT);
        }
    }

    /**
     * Scores closer than {@link RetrievalEvaluator#TIE_TOLERANCE} but not equal. Records 0 and 1 are
     * group x, 2 is y; the cosines are scores[image][text] (over sqrt(c), which keeps the gaps at
     * about 3e-7).
     *
     * <pre>
     * image to text:
     *   image 0: positives t0 0.9, t1 0.9 - 4e-7: the second is not a non-positive, so 1 and 2:  AP 1
     *   image 1: positives t1 0.6, t0 0.3; t2 0.2 below both:                                     AP 1
     *   image 2: positive t2 0.7; t0 0.7 - 5e-7 ties with it and counts against the query:       AP 1/2
     * text to image:
     *   text 0: positives i0 0.9, i1 0.3; i2 0.7 - 5e-7 beats i1:                  (1 + 2/3) / 2 = 5/6
     *   text 1: positives i0 0.9 - 4e-7, i1 0.6; i2 0.2 below both:                               AP 1
     *   text 2: positive i2 0.7, first:                                                           AP 1
     * </pre>
     */
    @Test
    void scoresWithinTheToleranceTieWithoutPositivesCountingAgainstEachOther() {
        double[][] scores = {
            {0.9, 0.9 - 4e-7, 0.5},
            {0.3, 0.6, 0.2},
            {0.7 - 5e-7, 0.2, 0.7},
        };
        for (int blockSize : new int[] {1, 1024}) {
            Map<String, Double> metrics = evaluate(new RetrievalEvaluator.Params(List.of(1), blockSize),
                    withCosines(scores).groupIds("x", "x", "y"));
            assertEquals(2 / 3.0, metrics.get("image_to_text/R_at_1"), EXACT);
            assertEquals((1 + 1 + 1 / 2.0) / 3, metrics.get("image_to_text/MRR"), EXACT);
            assertEquals((1 + 1 + 1 / 2.0) / 3, metrics.get("image_to_text/mAP"), EXACT);
            assertEquals(1.0, metrics.get("text_to_image/R_at_1"), EXACT);
            assertEquals(1.0, metrics.get("text_to_image/MRR"), EXACT);
            assertEquals((5 / 6.0 + 1 + 1) / 3, metrics.get("text_to_image/mAP"), EXACT);
        }
    }

    @Test
    void equalEmbeddingsTieAndGetNoCredit() {
        float[][] same = new float[5][];
        Arrays.fill(same, new float[] {0.3f, -1.2f, 2.5f});
        Map<String, Double> metrics = evaluate(DEFAULTS, context(same, same));
        for (String direction : List.of("image_to_text", "text_to_image")) {
            // Every query ties with all four non-positives: rank 5.
            assertEquals(0.0, metrics.get(direction + "/R_at_1"), EXACT, direction);
            assertEquals(1.0, metrics.get(direction + "/R_at_5"), EXACT, direction);
            assertEquals(1 / 5.0, metrics.get(direction + "/MRR"), EXACT, direction);
            assertEquals(1 / 5.0, metrics.get(direction + "/mAP"), EXACT, direction);
        }
        // Two groups of two, all equal: each positive ranks behind both non-positives, r_1 = 3, r_2 = 4.
        Map<String, Double> grouped = evaluate(DEFAULTS, context(Arrays.copyOf(same, 4), Arrays.copyOf(same, 4))
                .groupIds("p", "p", "q", "q"));
        assertEquals((1 / 3.0 + 2 / 4.0) / 2, grouped.get("image_to_text/mAP"), EXACT);
        Map<String, Double> alone = evaluate(DEFAULTS, context(new float[][] {same[0]}, new float[][] {same[0]}));
        assertEquals(1.0, alone.get("image_to_text/R_at_1"), EXACT, "with one item there is nothing to tie with");
    }

    @Test
    void zeroEmbeddingsTieLikeEqualOnes() {
        float[][] zeros = new float[3][4];
        Map<String, Double> metrics = evaluate(DEFAULTS, context(zeros, zeros));
        assertEquals(0.0, metrics.get("image_to_text/R_at_1"), EXACT);
        assertEquals(1 / 3.0, metrics.get("text_to_image/MRR"), EXACT);
    }

    /**
     * Two captions per image: records 0 and 1 show image x, 2 and 3 image y, so each tower of
     * images holds every image twice. With the group ids, any caption of an image is a hit, and so
     * is either copy of it.
     */
    @Test
    void recordsOfOneGroupCountAsHits() {
        float[] x = {1, 0};
        float[] y = {0, 1};
        float[][] images = {x, x, y, y};
        // Caption 0 is nearer x than caption 1 is, and caption 2 nearer y than caption 3.
        float[][] captions = {{1, 0.2f}, {0.9f, 0.5f}, {0.1f, 1}, {0.3f, 0.8f}};

        Map<String, Double> grouped = evaluate(DEFAULTS, context(images, captions).groupIds("x", "x", "y", "y"));
        for (String direction : List.of("image_to_text", "text_to_image")) {
            assertEquals(1.0, grouped.get(direction + "/R_at_1"), EXACT, direction);
            assertEquals(1.0, grouped.get(direction + "/MRR"), EXACT, direction);
            assertEquals(2 / 4.0, grouped.get(direction + "/chance_R_at_1"), EXACT, direction);
        }

        // Without groups each record is its own item. Image queries 1 and 3 lose to the other
        // caption of their image (rank 2); a caption's query ties with the copy of its image (rank 2).
        Map<String, Double> ungrouped = evaluate(DEFAULTS, context(images, captions));
        assertEquals(2 / 4.0, ungrouped.get("image_to_text/R_at_1"), EXACT);
        assertEquals((1 + 1 / 2.0 + 1 + 1 / 2.0) / 4, ungrouped.get("image_to_text/MRR"), EXACT);
        assertEquals(0.0, ungrouped.get("text_to_image/R_at_1"), EXACT);
        assertEquals(1 / 2.0, ungrouped.get("text_to_image/MRR"), EXACT);
        assertEquals(1 / 4.0, ungrouped.get("text_to_image/chance_R_at_1"), EXACT);
    }

    @Test
    void chanceFollowsTheGroupSizes() {
        float[][] rows = {{1, 0}, {0, 1}, {1, 1}, {1, -1}, {-1, 0}, {0, -1}};
        // Groups of 3, 2 and 1 among 6: (3 * 3/6 + 2 * 2/6 + 1 * 1/6) / 6.
        Map<String, Double> metrics = evaluate(DEFAULTS, context(rows, rows).groupIds("a", "a", "a", "b", "b", "c"));
        assertEquals((3 * 3 + 2 * 2 + 1) / 36.0, metrics.get("image_to_text/chance_R_at_1"), EXACT);
        assertEquals(metrics.get("image_to_text/chance_R_at_1"), metrics.get("text_to_image/chance_R_at_1"), EXACT);
    }

    @Test
    void aSingleItemIsAlwaysFound() {
        Map<String, Double> metrics = evaluate(DEFAULTS, context(new float[][] {{1, 2}}, new float[][] {{-2, 1}}));
        assertEquals(12, metrics.size());
        metrics.forEach((name, value) -> assertEquals(1.0, value, EXACT, name));
    }

    @Test
    void blocksSmallerThanTheSetGiveTheSameMetricsAsOneBlock() {
        FixedEvalContext context = randomContext(37, 8, 0.8, 11);
        Map<String, Double> whole = evaluate(new RetrievalEvaluator.Params(List.of(1, 5, 10), 1024), context);
        for (int blockSize : new int[] {1, 4, 10, 36, 37}) {
            assertEquals(whole, evaluate(new RetrievalEvaluator.Params(List.of(1, 5, 10), blockSize), context),
                    "block_size " + blockSize);
        }
        assertTrue(whole.get("image_to_text/R_at_1") < 1 && whole.get("image_to_text/R_at_10") > 0,
                "the noise should leave some queries unsolved and some solved: " + whole);
    }

    /** The same ranking rule written out plainly in double precision, on random embeddings and groups. */
    @Test
    void agreesWithAPlainRanking() {
        assertAgreesWithAPlainRanking(randomContext(50, 6, 1.0, 5), new RetrievalEvaluator.Params(List.of(1, 3, 10), 7));
    }

    /**
     * Groups larger than {@link RetrievalEvaluator#COUNTING_PASSES} are counted from a sorted copy of
     * each block instead of pass by pass: the same numbers.
     */
    @Test
    void largeGroupsAreCountedBySortingWithTheSameResult() {
        int records = 60;
        FixedEvalContext context = randomContext(records, 4, 2.0, 8);
        String[] groups = new String[records];
        for (int i = 0; i < records; i++) {
            groups[i] = i % 3 == 0 ? "small-" + i : "large-" + (i % 2);
        }
        context.groupIds(groups);
        assertAgreesWithAPlainRanking(context, new RetrievalEvaluator.Params(List.of(1, 3, 10), 16));
    }

    @Test
    void countingByPassesAndBySortedSearchAgreeWithTies() {
        Random random = new Random(3);
        int rows = 7;
        int gallery = 23;
        float[][] similarity = new float[rows][gallery];
        boolean[][] positive = new boolean[rows][gallery];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < gallery; g++) {
                // Tenths only, so that many scores tie.
                similarity[r][g] = Math.round(random.nextGaussian() * 5) / 10f;
                positive[r][g] = random.nextInt(4) == 0;
            }
        }
        ai.djl.ndarray.NDArray scores = manager.create(similarity);
        ai.djl.ndarray.NDArray mask = manager.create(positive);
        ai.djl.ndarray.NDArray notPositive = mask.logicalNot();
        ai.djl.ndarray.NDArray positiveScores = ai.djl.ndarray.NDArrays.where(mask, scores,
                manager.create(Float.NEGATIVE_INFINITY)).topK(gallery, 1, true, true).get(0);
        long[] byPasses = RetrievalEvaluator.nonPositivesAtLeastByPasses(scores, notPositive, positiveScores);
        long[] bySearch = RetrievalEvaluator.nonPositivesAtLeastBySearch(
                RetrievalEvaluator.sortedNegatives(scores, notPositive), positiveScores);
        float[] flat = positiveScores.toFloatArray();
        int compared = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < gallery; c++) {
                float score = flat[r * gallery + c];
                if (score == Float.NEGATIVE_INFINITY) {
                    continue;
                }
                long plain = 0;
                for (int g = 0; g < gallery; g++) {
                    if (!positive[r][g] && similarity[r][g] >= score - RetrievalEvaluator.TIE_TOLERANCE) {
                        plain++;
                    }
                }
                assertEquals(plain, byPasses[r * gallery + c], "passes, row " + r + " positive " + c);
                assertEquals(plain, bySearch[r * gallery + c], "search, row " + r + " positive " + c);
                compared++;
            }
        }
        assertTrue(compared > 20, "too few positives drawn: " + compared);
    }

    /**
     * The plain ranking on random groups of 1 to 4 records whose scores are exact in float32 (see
     * {@link #exactScoresContext}): ties, duplicates and all, every metric must come out the same,
     * whatever the blocks, down to one query per block, blocks of 7 that leave a short last block, one
     * block of the whole set, and blocks taller than the set, whose tiles are so narrow that the set
     * is not a whole number of them.
     */
    @Test
    void agreesWithAPlainRankingOnRandomGroupsWithExactTies() {
        int records = 300;
        int narrowTiles = 5000;
        int columns = RetrievalEvaluator.tileColumns(narrowTiles);
        assertTrue(columns < records && records % columns != 0, "tiles of " + columns + " columns");
        for (long seed : new long[] {21, 22}) {
            FixedEvalContext context = exactScoresContext(records, 256, 4, seed);
            for (int blockSize : new int[] {1, 7, records, narrowTiles}) {
                assertAgreesWithAPlainRanking(context, new RetrievalEvaluator.Params(List.of(1, 3, 10), blockSize));
            }
        }
    }

    /** A set wider than one tile, in blocks that do not divide it: the last tile and the last block are short. */
    @Test
    void setsWiderThanATileInBlocksThatDoNotDivideThem() {
        int blockSize = 1000;
        int records = 2 * RetrievalEvaluator.tileColumns(blockSize) + 123;
        assertTrue(records % blockSize != 0, records + " records");
        assertAgreesWithAPlainRanking(exactScoresContext(records, 64, 3, 5),
                new RetrievalEvaluator.Params(List.of(1, 5, 10), blockSize));
    }

    /** Both ways of counting close what they make: the context's manager holds as many arrays after as before. */
    @Test
    void leavesNoArraysBehind() {
        FixedEvalContext small = randomContext(40, 8, 0.5, 3);
        FixedEvalContext large = randomContext(40, 8, 0.5, 4);
        String[] groups = new String[40];
        for (int i = 0; i < groups.length; i++) {
            groups[i] = i < 20 ? "large" : "small-" + i;
        }
        large.groupIds(groups);
        for (FixedEvalContext context : List.of(small, large)) {
            int before = manager.getManagedArrays().size();
            evaluate(new RetrievalEvaluator.Params(List.of(1, 5), 16), context);
            assertEquals(before, manager.getManagedArrays().size(), "arrays left in the context's manager");
        }
    }

    /**
     * The ranking rule of the class javadoc written out plainly in double precision from the same float
     * embeddings, over the full similarity matrix: every metric of both directions must match.
     */
    private void assertAgreesWithAPlainRanking(FixedEvalContext context, RetrievalEvaluator.Params params) {
        int records = context.groupIds().size();
        Map<String, Double> metrics = evaluate(params, context);
        List<String> groups = context.groupIds();
        double[][] images = unitRows(rows(context, "image"));
        double[][] texts = unitRows(rows(context, "text"));
        // cosines[i][j] of image i and text j: image queries rank a row, text queries a column.
        double[][] cosines = new double[records][records];
        for (int i = 0; i < records; i++) {
            for (int j = 0; j < records; j++) {
                for (int d = 0; d < images[i].length; d++) {
                    cosines[i][j] += images[i][d] * texts[j][d];
                }
            }
        }
        double chance = 0;
        for (int q = 0; q < records; q++) {
            chance += (double) java.util.Collections.frequency(groups, groups.get(q)) / records / records;
        }
        for (boolean imageQueries : new boolean[] {true, false}) {
            String direction = imageQueries ? "image_to_text" : "text_to_image";
            long[] hits = new long[params.k().size()];
            double reciprocalRanks = 0;
            double averagePrecisions = 0;
            for (int q = 0; q < records; q++) {
                double[] scores = new double[records];
                List<Double> positiveScores = new ArrayList<>();
                for (int g = 0; g < records; g++) {
                    scores[g] = imageQueries ? cosines[q][g] : cosines[g][q];
                    if (groups.get(g).equals(groups.get(q))) {
                        positiveScores.add(scores[g]);
                    }
                }
                positiveScores.sort(java.util.Comparator.reverseOrder());
                double precisions = 0;
                int rank = 0;
                for (int j = 1; j <= positiveScores.size(); j++) {
                    int outranking = 0;
                    for (int g = 0; g < records; g++) {
                        if (!groups.get(g).equals(groups.get(q))
                                && scores[g] >= positiveScores.get(j - 1) - RetrievalEvaluator.TIE_TOLERANCE) {
                            outranking++;
                        }
                    }
                    if (j == 1) {
                        rank = 1 + outranking;
                    }
                    precisions += (double) j / (j + outranking);
                }
                averagePrecisions += precisions / positiveScores.size();
                for (int k = 0; k < hits.length; k++) {
                    hits[k] += rank <= params.k().get(k) ? 1 : 0;
                }
                reciprocalRanks += 1.0 / rank;
            }
            String where = direction + ", block_size " + params.blockSize();
            for (int k = 0; k < hits.length; k++) {
                assertEquals(hits[k] / (double) records, metrics.get(direction + "/R_at_" + params.k().get(k)), EXACT, where);
            }
            assertEquals(reciprocalRanks / records, metrics.get(direction + "/MRR"), EXACT, where);
            assertEquals(averagePrecisions / records, metrics.get(direction + "/mAP"), EXACT, where);
            assertEquals(chance, metrics.get(direction + "/chance_R_at_1"), EXACT, where);
        }
    }

    @Test
    void rejectsBadParametersByTheirKeys() {
        assertEquals("k", assertThrows(InvalidParamException.class,
                () -> new RetrievalEvaluator.Params(List.of(), 1024)).key());
        assertEquals("k", assertThrows(InvalidParamException.class,
                () -> new RetrievalEvaluator.Params(List.of(1, 0), 1024)).key());
        assertEquals("k", assertThrows(InvalidParamException.class,
                () -> new RetrievalEvaluator.Params(List.of(5, 1, 5), 1024)).key());
        InvalidParamException block = assertThrows(InvalidParamException.class,
                () -> new RetrievalEvaluator.Params(List.of(1), 0));
        assertEquals("block_size", block.key());
        assertTrue(block.getMessage().contains("found 0"), block.getMessage());
    }

    @Test
    void rejectsAnythingButTwoDifferentTowers() {
        for (List<String> towers : List.of(List.of("image"), List.of("image", "text", "audio"), List.of("text", "text"))) {
            InvalidParamException error = assertThrows(InvalidParamException.class,
                    () -> RetrievalPlugin.RETRIEVAL.create(DEFAULTS, TestContext.builder().optTowers(towers, 4).build()));
            assertEquals("towers", error.key());
            assertTrue(error.getMessage().contains("found " + towers), error.getMessage());
        }
    }

    @Test
    void pluginIsFoundByServiceLoaderWithItsVersions() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        Plugin retrieval = plugins.stream().filter(p -> p.name().equals("retrieval")).findFirst().orElseThrow();
        assertInstanceOf(RetrievalPlugin.class, retrieval);
        assertEquals("0.1.0", retrieval.version());
        assertEquals(ModalignApi.VERSION, retrieval.apiVersion());
        assertEquals(List.of("retrieval"), retrieval.evaluators().stream().map(f -> f.name()).toList());
    }

    private static Map<String, Double> evaluate(RetrievalEvaluator.Params params, FixedEvalContext context) {
        RetrievalEvaluator evaluator = new RetrievalEvaluator(params,
                TestContext.builder().optTowers(context.towers(), 4).build());
        EvalResult result = evaluator.evaluate(context);
        return result.metrics();
    }

    private FixedEvalContext context(float[][] images, float[][] texts) {
        return new FixedEvalContext(manager).tower("image", images).tower("text", texts).towers("image", "text");
    }

    /**
     * Embeddings with cos(image i, text j) = scores[i][j] / sqrt(c): image i is the unit vector e_i,
     * and text j is column j of the scores, padded in one extra dimension so that every text has
     * the norm sqrt(c).
     */
    private FixedEvalContext withCosines(double[][] scores) {
        int n = scores.length;
        double c = 0;
        for (int j = 0; j < n; j++) {
            double squares = 0;
            for (double[] row : scores) {
                squares += row[j] * row[j];
            }
            c = Math.max(c, squares + 1);
        }
        float[][] images = new float[n][n + 1];
        float[][] texts = new float[n][n + 1];
        for (int j = 0; j < n; j++) {
            images[j][j] = 1;
            double squares = 0;
            for (int i = 0; i < n; i++) {
                texts[j][i] = (float) scores[i][j];
                squares += scores[i][j] * scores[i][j];
            }
            texts[j][n] = (float) Math.sqrt(c - squares);
        }
        return context(images, texts);
    }

    /** Noisy pairs of views of random points; records 3m and 3m + 1 share a group, 3m + 2 is alone. */
    private FixedEvalContext randomContext(int records, int dim, double noise, long seed) {
        Random random = new Random(seed);
        float[][] images = new float[records][dim];
        float[][] texts = new float[records][dim];
        List<String> groups = new ArrayList<>();
        for (int i = 0; i < records; i++) {
            for (int d = 0; d < dim; d++) {
                double point = random.nextGaussian();
                images[i][d] = (float) (point + noise * random.nextGaussian());
                texts[i][d] = (float) (point + noise * random.nextGaussian());
            }
            groups.add("item-" + (i % 3 == 1 ? i - 1 : i));
        }
        return context(images, texts).groupIds(groups.toArray(String[]::new));
    }

    /**
     * Random records whose every cosine is exact in float32, so that no rounding can decide a
     * comparison: each coordinate is +-1/sqrt(dim), with dim a power of 4, so the entries, the products,
     * the norm (1) and every partial sum are exact, and two scores are equal or at least 2/dim apart.
     * Records form groups of 1 to largestGroup, scattered over the set; each group has a random base,
     * and each record's image and text are the base with a random fraction (up to a third, for some
     * none) of its signs flipped, so ranks spread from first to last. One record in twenty copies the
     * embeddings of a record of another group: exact ties between positives and non-positives.
     */
    private FixedEvalContext exactScoresContext(int records, int dim, int largestGroup, long seed) {
        Random random = new Random(seed);
        float entry = (float) (1 / Math.sqrt(dim));
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < records; i++) {
            order.add(i);
        }
        java.util.Collections.shuffle(order, random);
        String[] groups = new String[records];
        float[][] images = new float[records][];
        float[][] texts = new float[records][];
        for (int placed = 0, group = 0; placed < records; group++) {
            boolean[] base = new boolean[dim];
            for (int d = 0; d < dim; d++) {
                base[d] = random.nextBoolean();
            }
            int size = Math.min(records - placed, 1 + random.nextInt(largestGroup));
            for (int m = 0; m < size; m++, placed++) {
                int record = order.get(placed);
                groups[record] = "group-" + group;
                images[record] = flipped(base, random.nextInt(4) == 0 ? 0 : random.nextDouble() / 3, entry, random);
                texts[record] = flipped(base, random.nextDouble() / 3, entry, random);
            }
        }
        for (int record = 0; record < records; record++) {
            int original = random.nextInt(records);
            if (random.nextInt(20) == 0 && !groups[original].equals(groups[record])) {
                images[record] = images[original].clone();
                texts[record] = texts[original].clone();
            }
        }
        return context(images, texts).groupIds(groups);
    }

    /** +-entry per coordinate by the base's signs, each flipped with the given probability. */
    private static float[] flipped(boolean[] base, double probability, float entry, Random random) {
        float[] row = new float[base.length];
        for (int d = 0; d < base.length; d++) {
            row[d] = base[d] ^ (random.nextDouble() < probability) ? entry : -entry;
        }
        return row;
    }

    private static float[][] rows(FixedEvalContext context, String tower) {
        float[] flat = context.embeddings(tower).toFloatArray();
        int records = Math.toIntExact(context.embeddings(tower).getShape().get(0));
        int dim = flat.length / records;
        float[][] rows = new float[records][];
        for (int i = 0; i < records; i++) {
            rows[i] = Arrays.copyOfRange(flat, i * dim, (i + 1) * dim);
        }
        return rows;
    }

    private static double[][] unitRows(float[][] rows) {
        double[][] unit = new double[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            double squares = 0;
            for (float value : rows[i]) {
                squares += (double) value * value;
            }
            double norm = Math.sqrt(squares);
            unit[i] = new double[rows[i].length];
            for (int d = 0; d < rows[i].length; d++) {
                unit[i][d] = rows[i][d] / norm;
            }
        }
        return unit;
    }
}
