package dev.modalign.core.track;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded store continuing a run: same id, same records file, a torn last line cut, one writer at a time. */
class LocalTrackerResumeTest {

    @TempDir
    Path dir;

    private static List<JsonObject> records(Path runDir) throws IOException {
        return Files.readAllLines(runDir.resolve("records.jsonl")).stream()
                .map(line -> JsonParser.parseString(line).getAsJsonObject()).toList();
    }

    private static JsonObject meta(Path runDir) throws IOException {
        return JsonParser.parseString(Files.readString(runDir.resolve("run.json"))).getAsJsonObject();
    }

    @Test
    void aKilledRunIsContinuedInTheSameRecordsAfterItsTornLastLine() throws IOException {
        LocalTracker tracker = new LocalTracker(dir);
        TrackedRun run = tracker.startRun(new RunSpec("exp", "first", null));
        run.logMetric("train/loss", 1.0, 0);
        run.logMetric("train/loss", 0.5, 1);
        Path runDir = tracker.runDirectory("exp", run.id());
        // The process dies while appending: half a line, and the run never ended (its lock goes with the process).
        ((LocalTracker.LocalRun) run).release();
        Files.writeString(runDir.resolve("records.jsonl"), "{\"seq\":4,\"time\":1,\"kind\":\"met", StandardCharsets.UTF_8,
                StandardOpenOption.APPEND);

        TrackedRun resumed = tracker.resumeRun(run.id()).orElseThrow();
        assertEquals(run.id(), resumed.id());
        assertEquals("RUNNING", meta(runDir).get("status").getAsString());
        resumed.logMetric("train/loss", 0.25, 2);
        resumed.end(RunStatus.FINISHED, null);

        List<JsonObject> records = records(runDir);
        for (int i = 0; i < records.size(); i++) {
            assertEquals(i + 1, records.get(i).get("seq").getAsLong(), "numbered in order, the torn line gone");
        }
        assertEquals(List.of("start", "metric", "metric", "resume", "metric", "end"),
                records.stream().map(r -> r.get("kind").getAsString()).toList());
        assertEquals("RUNNING", records.get(3).getAsJsonObject("data").get("previous_status").getAsString());
        assertEquals("FINISHED", meta(runDir).get("status").getAsString());
        assertEquals(List.of(1.0, 0.5, 0.25), records.stream().filter(r -> r.get("kind").getAsString().equals("metric"))
                .map(r -> r.getAsJsonObject("data").get("value").getAsDouble()).toList());
    }

    @Test
    void aRunBeingRecordedCannotBeResumedByAnotherWriter() throws IOException {
        LocalTracker tracker = new LocalTracker(dir);
        TrackedRun run = tracker.startRun(new RunSpec("exp", "live", null));
        IllegalStateException busy = assertThrows(IllegalStateException.class, () -> tracker.resumeRun(run.id()));
        assertTrue(busy.getMessage().contains("is being recorded by another process"), busy.getMessage());
        run.end(RunStatus.KILLED, "stopped");
        TrackedRun resumed = tracker.resumeRun(run.id()).orElseThrow();
        resumed.end(RunStatus.FINISHED, null);
        assertTrue(tracker.resumeRun("no-such-run").isEmpty());
    }
}
