package dev.modalign.core.track;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.MetricPoint;
import dev.modalign.api.RecordedRun;
import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local store read back: what a run logged through the tracker comes back through the API. */
class LocalTrackerTest {

    @TempDir
    Path root;

    @Test
    void aSweepsParentAndTrialsComeBackWithTheirInfoMetricsAndHistories() throws Exception {
        LocalTracker tracker = new LocalTracker(root);
        TrackedRun parent = tracker.startRun(new RunSpec("sweep tux", "sweep", null));
        Thread.sleep(2);
        TrackedRun first = tracker.startRun(new RunSpec("sweep tux", "trial-1", parent.id()));
        first.logParams(Map.of("seed", "1", "losses.0.temperature", "0.05"));
        first.setTags(Map.of("modalign.seed", "1"));
        first.logMetric("train/loss", 2.0, 0);
        first.logMetric("train/loss", 1.5, 5);
        first.logMetric("train/loss", 1.25, 10);
        Path yaml = Files.writeString(root.resolve("resolved.yaml"), "name: sweep\nseed: 1\n");
        first.logArtifact(yaml, "config/resolved.yaml");
        first.end(RunStatus.FINISHED, null);
        Thread.sleep(2);
        TrackedRun second = tracker.startRun(new RunSpec("sweep tux", "trial-2", parent.id()));
        second.logParams(Map.of("seed", "2", "losses.0.temperature", "0.05"));
        second.logMetric("train/loss", 3.0, 0);
        second.end(RunStatus.FAILED, "loss became NaN at step 3\nat the clip loss");
        parent.end(RunStatus.FINISHED, null);

        List<RecordedRun> runs = tracker.searchRuns("sweep tux");
        assertEquals(List.of(parent.id(), first.id(), second.id()), runs.stream().map(RecordedRun::runId).toList(),
                "oldest first");
        RecordedRun p = runs.get(0);
        RecordedRun one = runs.get(1);
        RecordedRun two = runs.get(2);
        assertNull(p.info().parentRunId());
        assertEquals(new RecordedRun.Info("sweep tux", "trial-1", RunStatus.FINISHED, parent.id(),
                one.info().startTime(), one.info().endTime()), one.info());
        assertTrue(one.info().startTime() > 0 && one.info().endTime() >= one.info().startTime());
        assertEquals(Map.of("train/loss", 1.25), one.metrics(), "the last value");
        assertEquals(Map.of("seed", "1", "losses.0.temperature", "0.05"), one.params());
        assertEquals("name: sweep\nseed: 1\n", one.resolvedYaml());
        assertEquals(RunStatus.FAILED, two.info().status());
        assertEquals("loss became NaN at step 3\nat the clip loss", two.tags().get("modalign.error"),
                "a failure's message comes back as MLflow keeps it, in the tag modalign.error");
        assertEquals("", two.resolvedYaml());

        List<MetricPoint> history = tracker.metricHistory(first.id(), "train/loss");
        assertEquals(List.of(0L, 5L, 10L), history.stream().map(MetricPoint::step).toList());
        assertEquals(List.of(2.0, 1.5, 1.25), history.stream().map(MetricPoint::value).toList());
        assertTrue(history.get(0).timestamp() > 0);
        assertEquals(List.of(), tracker.metricHistory(first.id(), "train/lr"));
        assertEquals(List.of(), tracker.metricHistory("no-such-run", "train/loss"));

        RecordedRun fetched = tracker.fetchRun(parent.id()).orElseThrow();
        assertEquals("", fetched.resolvedYaml(), "a parent without a resolved YAML is still a run");
        assertEquals("sweep tux", fetched.info().experiment());
        assertEquals(List.of(), tracker.searchRuns("sweep_tux"), "the directory is sweep_tux, the experiment is not");
        assertEquals(List.of(), tracker.searchRuns("nothing"));
        assertEquals(List.of("sweep tux"), tracker.experiments());
    }

    @Test
    void theLastValueIsTheOneAtTheHighestStepAndALineCutShortByACrashIsSkipped() throws IOException {
        LocalTracker tracker = new LocalTracker(root);
        TrackedRun run = tracker.startRun(new RunSpec("crash", "run", null));
        run.logMetric("eval/retrieval/MRR", 0.4, 20);
        run.logMetric("eval/retrieval/MRR", 0.3, 10);
        Path records = root.resolve("crash").resolve(run.id()).resolve("records.jsonl");
        Files.writeString(records, "{\"seq\":9,\"time\":1,\"kind\":\"metric\",\"data\":{\"key\":\"eval/ret",
                StandardOpenOption.APPEND);
        RecordedRun read = tracker.fetchRun(run.id()).orElseThrow();
        assertEquals(Map.of("eval/retrieval/MRR", 0.4), read.metrics());
        assertEquals(RunStatus.RUNNING, read.info().status(), "the process died before it ended the run");
        assertEquals(List.of(10L, 20L), tracker.metricHistory(run.id(), "eval/retrieval/MRR").stream()
                .map(MetricPoint::step).toList());
    }
}
