package dev.modalign.core.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The paired ratio: each run against the reference run beside it, then the median. */
class PairedRatioTest {

    private static StepBenchmark.Measurement ours(double stepsPerSecond) {
        return new StepBenchmark.Measurement(stepsPerSecond, 0, 0, 0, -1, 0, 0, new double[0], -1);
    }

    private static PytorchReference.Measurement theirs(double stepsPerSecond) {
        return new PytorchReference.Measurement(stepsPerSecond, 0, -1, Double.NaN, "2.7.1", 0, Map.of());
    }

    @Test
    void aLoadThatChangesBetweenRunsFallsOnBothMembersOfAPair() {
        // Speeds change between pairs (48 vs 40, then a slower machine: 24 vs 20, then 30 vs 30). The medians
        // (30 and 30) give 1.0x; the pairs give 1.2x, 1.2x and 1.0x, whose median is 1.2x.
        List<StepBenchmark.Measurement> mine = List.of(ours(48), ours(24), ours(30));
        List<PytorchReference.Measurement> reference = List.of(theirs(40), theirs(20), theirs(30));

        Samples paired = BenchReport.pairedRatios(mine, reference);

        assertEquals(1.2, paired.median(), 1e-12);
        assertEquals(3, paired.count());
    }

    @Test
    void withoutAReferenceThereIsNoPair() {
        assertEquals(0, BenchReport.pairedRatios(List.of(ours(10)), List.of()).count());
    }
}
