package dev.modalign.core.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.modalign.core.train.StepListener;
import dev.modalign.core.train.StepListener.Phase;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The bench's phase breakdown: modalign's from the trainer's step times, PyTorch's from the reference's JSON line. */
class StepPhasesTest {

    private static StepListener.StepTime step(long index, long start, long end, long forward, long data) {
        long[] phases = new long[Phase.values().length];
        phases[Phase.FORWARD.ordinal()] = forward;
        phases[Phase.DATA.ordinal()] = data;
        return new StepListener.StepTime(index, 32, start, end, data, 0, phases);
    }

    @Test
    void phasesAreMeanMillisecondsPerTimedStep() {
        List<StepListener.StepTime> times = List.of(step(0, 0, 10_000_000, 4_000_000, 1_000_000),
                step(1, 10_000_000, 20_000_000, 6_000_000, 0));
        StepBenchmark.Measurement measurement = StepBenchmark.measure(times, -1, 1.0, 10, -1);
        assertEquals(100.0, measurement.stepsPerSecond(), 1e-9);
        assertEquals(5.0, measurement.phaseMillis()[Phase.FORWARD.ordinal()], 1e-9);
        assertEquals(0.5, measurement.phaseMillis()[Phase.DATA.ordinal()], 1e-9);
        assertEquals(0.05, measurement.dataShare(), 1e-9);
        assertEquals(0.0, measurement.phaseMillis()[Phase.OPTIMIZER.ordinal()], 1e-9);
    }

    @Test
    void aStepTimedWithoutPhasesHasThemAllZero() {
        StepListener.StepTime time = new StepListener.StepTime(0, 1, 0, 1, 0, 0);
        assertEquals(Phase.values().length, time.phaseNanos().length);
    }

    @Test
    void theReferencesPhasesAreReadInTheirOrder() {
        PytorchReference.Measurement parsed = PytorchReference.parse("warming up\n{\"steps_per_sec\": 20.5, "
                + "\"flops_per_step\": 1e+9, \"peak_rss_bytes\": 1024, \"gemm_gflops\": null, \"torch\": \"2.7.1\", "
                + "\"parameters\": 10, \"phases_ms\": {\"zero\": 0.5, \"forward\": 12.25, \"backward\": 20}}");
        assertEquals(20.5, parsed.stepsPerSecond(), 1e-9);
        assertEquals(Map.of("zero", 0.5, "forward", 12.25, "backward", 20.0), parsed.phaseMillis());
        assertEquals(List.of("zero", "forward", "backward"), List.copyOf(parsed.phaseMillis().keySet()));
    }
}
