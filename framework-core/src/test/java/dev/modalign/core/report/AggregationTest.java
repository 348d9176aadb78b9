package dev.modalign.core.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.MetricPoint;
import dev.modalign.api.RecordedRun;
import dev.modalign.api.RunStatus;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Mean, sample spread, best marking and grouping, against values worked out by hand. */
class AggregationTest {

    private static final String R1 = "eval/retrieval/image_to_text/R_at_1";
    private static final String LOSS = "eval/probe/val_loss";

    @Test
    void theSpreadIsTheSampleStandardDeviation() {
        // (0.1, 0.2, 0.3): squared deviations 0.01 + 0 + 0.01 over n - 1 = 2 is 0.01, std 0.1
        // (the population's would be sqrt(0.02 / 3) = 0.0816).
        MetricSummary three = MetricSummary.of(List.of(0.1, 0.2, 0.3));
        assertEquals(0.2, three.mean(), 1e-15);
        assertEquals(0.1, three.std(), 1e-15);
        assertEquals(3, three.n());
        // (1, 2, 3, 4): mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, over 3.
        MetricSummary four = MetricSummary.of(List.of(4.0, 1.0, 3.0, 2.0));
        assertEquals(2.5, four.mean(), 1e-15);
        assertEquals(Math.sqrt(5.0 / 3.0), four.std(), 1e-15);
    }

    @Test
    void oneValueHasNoSpreadAndNonFiniteValuesAreNotCounted() {
        MetricSummary one = MetricSummary.of(List.of(0.7));
        assertEquals(0.7, one.mean());
        assertTrue(Double.isNaN(one.std()), "the spread of one value is undefined, not 0");
        MetricSummary diverged = MetricSummary.of(List.of(1.0, Double.NaN, 3.0, Double.POSITIVE_INFINITY));
        assertEquals(2, diverged.n());
        assertEquals(2.0, diverged.mean());
        assertEquals(Math.sqrt(2.0), diverged.std(), 1e-15);
        assertTrue(MetricSummary.of(List.of()).isEmpty());
    }

    @Test
    void lowerIsBetterForLossesAndNamedMetrics() {
        assertEquals(MetricDirection.LOWER_IS_BETTER, MetricDirection.of("train/loss", Set.of()));
        assertEquals(MetricDirection.LOWER_IS_BETTER, MetricDirection.of("eval/probe/val_Loss", Set.of()));
        assertEquals(MetricDirection.HIGHER_IS_BETTER, MetricDirection.of("eval/retrieval/image_to_text/MRR", Set.of()));
        assertEquals(MetricDirection.LOWER_IS_BETTER, MetricDirection.of("eval/rank/median", Set.of("eval/rank/median")));
    }

    @Test
    void theBestMeanIsMarkedHigherOrLowerByTheMetricAndFailedRunsAreLeftOut() {
        List<RecordedRun> runs = List.of(
                Runs.finished("a1", "clip", "1", Map.of(R1, 0.10, LOSS, 0.2)),
                Runs.finished("a2", "clip", "2", Map.of(R1, 0.14, LOSS, 0.4)),
                Runs.finished("b1", "siglip", "1", Map.of(R1, 0.20, LOSS, 0.5)),
                Runs.finished("b2", "siglip", "2", Map.of(R1, 0.30, LOSS, 0.7)),
                // A failed run's values would make siglip's R@1 mean 0.45 and its loss mean 0.4 (the best).
                Runs.run("b3", "siglip", RunStatus.FAILED, Map.of("seed", "3"), Map.of(R1, 0.85, LOSS, 0.0)));
        List<Method> methods = MethodGrouping.byExperiment(List.of("clip", "siglip")).apply(runs);
        ComparisonTable table = ComparisonTable.of(methods, List.of(R1, LOSS), Set.of());

        assertEquals(0.12, table.cell("clip", R1).mean(), 1e-12);
        assertEquals(Math.sqrt(0.0008), table.cell("clip", R1).std(), 1e-12);
        assertEquals(0.25, table.cell("siglip", R1).mean(), 1e-12);
        assertEquals(2, table.cell("siglip", R1).n(), "the failed run is not aggregated");
        assertEquals(Math.sqrt(0.005), table.cell("siglip", R1).std(), 1e-12);
        assertEquals(Set.of("siglip"), table.best().get(R1), "higher R@1 is better");
        assertEquals(0.3, table.cell("clip", LOSS).mean(), 1e-12);
        assertEquals(0.6, table.cell("siglip", LOSS).mean(), 1e-12);
        assertEquals(Set.of("clip"), table.best().get(LOSS), "lower loss is better");
        assertEquals(List.of("b1", "b2", "b3"), methods.get(1).runs().stream().map(RecordedRun::runId).toList());
        assertEquals(List.of("b3"), methods.get(1).unfinished().stream().map(RecordedRun::runId).toList());
    }

    @Test
    void tiesAreAllMarkedAndAColumnWhereNoMethodDiffersIsNot() {
        String chance = "eval/retrieval/image_to_text/chance_R_at_1";
        List<RecordedRun> runs = List.of(
                Runs.finished("a", "clip", "1", Map.of(R1, 0.5, chance, 0.01)),
                Runs.finished("b", "siglip", "1", Map.of(R1, 0.5, chance, 0.01)),
                Runs.finished("c", "supcon", "1", Map.of(R1, 0.25, chance, 0.01)));
        ComparisonTable table = ComparisonTable.of(MethodGrouping.byExperiment(List.of("clip", "siglip", "supcon"))
                .apply(runs), List.of(R1, chance), Set.of());
        assertEquals(Set.of("clip", "siglip"), table.best().get(R1));
        // Two hits of 118 a seed against one and three: the same mean, though not the same double.
        List<RecordedRun> rounded = List.of(
                Runs.finished("a1", "clip", "1", Map.of(R1, 4 / 118.0)), Runs.finished("a2", "clip", "2", Map.of(R1, 5 / 118.0)),
                Runs.finished("b1", "siglip", "1", Map.of(R1, 3 / 118.0)), Runs.finished("b2", "siglip", "2", Map.of(R1, 6 / 118.0)),
                Runs.finished("c1", "supcon", "1", Map.of(R1, 1 / 118.0)));
        ComparisonTable close = ComparisonTable.of(MethodGrouping.byExperiment(List.of("clip", "siglip", "supcon"))
                .apply(rounded), List.of(R1), Set.of());
        assertTrue(close.cell("clip", R1).mean() != close.cell("siglip", R1).mean(), "the doubles do differ");
        assertEquals(Set.of("clip", "siglip"), close.best().get(R1), "a tie within rounding is a tie");
        assertEquals(Set.of(), table.best().get(chance), "a chance level every method shares is no one's best");
        ComparisonTable alone = ComparisonTable.of(MethodGrouping.byExperiment(List.of("clip")).apply(runs.subList(0, 1)),
                List.of(R1), Set.of());
        assertEquals(Set.of(), alone.best().get(R1), "one method beats no other");
    }

    @Test
    void aSweepIsGroupedByTheParametersThatDifferOtherThanTheSeedInNumericOrder() {
        List<RecordedRun> runs = List.of(
                Runs.run("t1", "sweep", RunStatus.FINISHED, Map.of("seed", "1", "lr", "0.01", "temperature", "10",
                        "tracking.run_name", "a"), Map.of()),
                Runs.run("t2", "sweep", RunStatus.FINISHED, Map.of("seed", "2", "lr", "0.01", "temperature", "10",
                        "tracking.run_name", "b"), Map.of()),
                Runs.run("t3", "sweep", RunStatus.FINISHED, Map.of("seed", "1", "lr", "0.01", "temperature", "2",
                        "tracking.run_name", "c"), Map.of()),
                Runs.run("t4", "sweep", RunStatus.FINISHED, Map.of("seed", "10", "lr", "0.01", "temperature", "2",
                        "tracking.run_name", "d"), Map.of()),
                Runs.run("t5", "sweep", RunStatus.FINISHED, Map.of("seed", "9", "lr", "0.01", "temperature", "2",
                        "tracking.run_name", "e"), Map.of()));
        MethodGrouping grouping = MethodGrouping.bySweptParams(runs, "sweep");
        assertEquals(List.of("temperature"), grouping.keys());
        List<Method> methods = grouping.apply(runs);
        assertEquals(List.of("2", "10"), methods.stream().map(Method::name).toList(), "2 before 10: by value");
        assertEquals(List.of("t3", "t5", "t4"), methods.get(0).runs().stream().map(RecordedRun::runId).toList(),
                "seeds 1, 9, 10 by value");
        List<Method> one = MethodGrouping.bySweptParams(runs.subList(0, 2), "sweep").apply(runs.subList(0, 2));
        assertEquals(List.of("sweep"), one.stream().map(Method::name).toList(), "only the seed differs: one method");
    }

    @Test
    void aCurveIsTheMeanOverRunsAtEachStep() {
        List<MetricPoint> first = List.of(new MetricPoint(0, 2.0, 1), new MetricPoint(10, 1.5, 2), new MetricPoint(20, 1.0, 3));
        // Logged twice at step 10 (a resumed run): its last value there counts.
        List<MetricPoint> second = List.of(new MetricPoint(0, 3.0, 1), new MetricPoint(10, 9.0, 2),
                new MetricPoint(10, 2.5, 3));
        TrainingCurve curve = TrainingCurve.of("clip", List.of(first, second, List.of()));
        assertEquals(List.of(0L, 10L, 20L), curve.steps());
        assertEquals(List.of(2.5, 2.0, 1.0), curve.mean());
        assertEquals(2, curve.runs());
    }

    @Test
    void theCommandIsWrappedBeforeAnOptionAndKeepsEachOptionWithItsValue() {
        String command = "modalign report --name methods-tuxpaint --runs-dir reports/methods-tuxpaint/runs"
                + " --experiment tuxpaint --experiment c3 --experiment cwcl --experiment debiased --out reports/methods-tuxpaint";
        String wrapped = ReportWriter.wrap(command);
        // 81 characters, and --experiment tuxpaint would make 103; the next line would reach 112 with --out.
        assertEquals("modalign report --name methods-tuxpaint --runs-dir reports/methods-tuxpaint/runs \\\n"
                + "    --experiment tuxpaint --experiment c3 --experiment cwcl --experiment debiased \\\n"
                + "    --out reports/methods-tuxpaint", wrapped);
        assertTrue(wrapped.lines().allMatch(line -> line.length() <= 100), wrapped);
        assertEquals(command, wrapped.replace(" \\\n    ", " "));
    }

    @Test
    void tableHeadersLoseTheDirectoryEveryMetricShares() {
        assertEquals("eval/retrieval/", ReportWriter.commonDirectory(List.of(R1, "eval/retrieval/text_to_image/MRR")));
        assertEquals("eval/", ReportWriter.commonDirectory(List.of(R1, LOSS)));
        assertEquals("eval/retrieval/image_to_text/", ReportWriter.commonDirectory(List.of(R1)));
        assertEquals("", ReportWriter.commonDirectory(List.of("train/loss", "eval/probe/val_loss")));
    }
}
