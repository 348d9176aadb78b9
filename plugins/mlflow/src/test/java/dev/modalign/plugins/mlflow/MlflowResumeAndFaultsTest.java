package dev.modalign.plugins.mlflow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.InvalidParamException;
import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mlflow_project.google.gson.JsonElement;
import org.mlflow_project.google.gson.JsonObject;

/**
 * Continuing an MLflow run (modalign run --resume), a server that dies and comes back while a run goes
 * on, and a spool that cannot be written; against a real MLflow server.
 */
class MlflowResumeAndFaultsTest {

    @TempDir
    static Path serverDir;

    static MlflowTestServer server;

    @BeforeAll
    static void startServer() throws IOException {
        server = new MlflowTestServer(serverDir);
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    private static MlflowTracker tracker(Path spool, String uri) {
        return new MlflowTracker(new MlflowTracker.Params(uri, 2, 50, spool.toString(), 20), TestContext.builder().build());
    }

    private static String status(MlflowTestServer on, String runId) throws Exception {
        return on.get("/api/2.0/mlflow/runs/get?run_id=" + runId).getAsJsonObject("run").getAsJsonObject("info")
                .get("status").getAsString();
    }

    private static Map<Long, Integer> stepCounts(MlflowTestServer on, String runId) throws Exception {
        JsonObject history = on.get("/api/2.0/mlflow/metrics/get-history?run_id=" + runId
                + "&metric_key=train%2Floss&max_results=25000");
        Map<Long, Integer> counts = new LinkedHashMap<>();
        if (history.has("metrics")) {
            for (JsonElement metric : history.getAsJsonArray("metrics")) {
                counts.merge(metric.getAsJsonObject().get("step").getAsLong(), 1, Integer::sum);
            }
        }
        return counts;
    }

    private static long spools(Path spool) throws IOException {
        try (Stream<Path> dirs = Files.list(spool)) {
            return dirs.filter(RunSpool::isSpool).count();
        }
    }

    @Test
    void aKilledRunIsContinuedByItsIdRunningAgainAndEndsOnce(@TempDir Path spool) throws Exception {
        String runId;
        try (MlflowTracker tracker = tracker(spool, server.uri())) {
            TrackedRun run = tracker.startRun(new RunSpec("resume", "stopped", null));
            runId = run.id();
            for (long step = 0; step < 5; step++) {
                run.logMetric("train/loss", step, step);
            }
            run.end(RunStatus.KILLED, "stopped by SIGTERM after step 5");
        }
        assertEquals("KILLED", status(server, runId));
        try (MlflowTracker tracker = tracker(spool, server.uri())) {
            TrackedRun run = tracker.resumeRun(runId).orElseThrow();
            assertEquals(runId, run.id(), "the same run");
            long deadline = System.currentTimeMillis() + 10_000;
            while (!status(server, runId).equals("RUNNING") && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            assertEquals("RUNNING", status(server, runId));
            for (long step = 5; step < 10; step++) {
                run.logMetric("train/loss", step, step);
            }
            run.end(RunStatus.FINISHED, null);
        }
        assertEquals("FINISHED", status(server, runId));
        Map<Long, Integer> steps = stepCounts(server, runId);
        assertEquals(10, steps.size(), steps.toString());
        assertTrue(steps.values().stream().allMatch(count -> count == 1), steps.toString());
        assertEquals(1, spools(spool), "the run's spool is continued, not a second one");
        try (MlflowTracker syncing = tracker(spool, server.uri())) {
            assertEquals(0, syncing.sync(), "nothing left for a sync, and no KILLED appended to a continued run");
        }
        assertEquals("FINISHED", status(server, runId));
    }

    @Test
    void aRunWhoseProcessDiedIsContinuedWithTheRecordsItHadNotSentFirst(@TempDir Path spool) throws Exception {
        MlflowTestServer own = new MlflowTestServer(Files.createTempDirectory(serverDir, "died"));
        try {
            String runId;
            try (MlflowTracker tracker = tracker(spool, own.uri())) {
                TrackedRun run = tracker.startRun(new RunSpec("resume", "died", null));
                runId = run.id();
                run.logMetric("train/loss", 0, 0);
                own.kill();
                for (long step = 1; step < 6; step++) {
                    run.logMetric("train/loss", step, step);
                }
                // The process dies here: no end; closing the tracker only stops its sender.
            }
            own.start();
            try (MlflowTracker tracker = tracker(spool, own.uri())) {
                TrackedRun run = tracker.resumeRun(runId).orElseThrow();
                for (long step = 6; step < 9; step++) {
                    run.logMetric("train/loss", step, step);
                }
                run.end(RunStatus.FINISHED, null);
            }
            assertEquals("FINISHED", status(own, runId));
            Map<Long, Integer> steps = stepCounts(own, runId);
            assertEquals(9, steps.size(), "the steps the dead process had spooled arrive too: " + steps);
            assertTrue(steps.values().stream().allMatch(count -> count == 1), steps.toString());
        } finally {
            own.close();
        }
    }

    @Test
    void aRunRecordedElsewhereIsContinuedThroughTheServerAndAnUnknownIdIsEmpty(@TempDir Path spool,
            @TempDir Path otherSpool) throws Exception {
        String runId;
        try (MlflowTracker tracker = tracker(spool, server.uri())) {
            TrackedRun run = tracker.startRun(new RunSpec("resume", "elsewhere", null));
            runId = run.id();
            run.logMetric("train/loss", 0, 0);
            run.end(RunStatus.KILLED, "stopped");
        }
        try (MlflowTracker tracker = tracker(otherSpool, server.uri())) {
            TrackedRun run = tracker.resumeRun(runId).orElseThrow();
            assertEquals(runId, run.id());
            run.logMetric("train/loss", 1, 1);
            run.end(RunStatus.FINISHED, null);
            assertTrue(tracker.resumeRun("0123456789abcdef0123456789abcdef").isEmpty());
        }
        assertEquals("FINISHED", status(server, runId));
        assertEquals(Map.of(0L, 1, 1L, 1), stepCounts(server, runId));
    }

    @Test
    void aRunBeingRecordedCannotBeContinuedBySecondProcess(@TempDir Path spool) throws Exception {
        try (MlflowTracker live = tracker(spool, server.uri()); MlflowTracker second = tracker(spool, server.uri())) {
            TrackedRun run = live.startRun(new RunSpec("resume", "live", null));
            IllegalStateException busy = assertThrows(IllegalStateException.class, () -> second.resumeRun(run.id()));
            assertTrue(busy.getMessage().contains("is being recorded by another process"), busy.getMessage());
            run.end(RunStatus.FINISHED, null);
        }
    }

    @Test
    void aServerKilledAndRestartedMidRunReceivesEverythingWithoutASync(@TempDir Path spool) throws Exception {
        MlflowTestServer own = new MlflowTestServer(Files.createTempDirectory(serverDir, "restart"));
        try {
            String runId;
            MlflowRun run;
            try (MlflowTracker tracker = tracker(spool, own.uri())) {
                run = (MlflowRun) tracker.startRun(new RunSpec("restart", "goes-on", null));
                runId = run.id();
                for (long step = 0; step < 100; step++) {
                    run.logMetric("train/loss", step, step);
                }
                own.kill();
                for (long step = 100; step < 200; step++) {
                    run.logMetric("train/loss", step, step);
                }
                own.start();
                for (long step = 200; step < 300; step++) {
                    run.logMetric("train/loss", step, step);
                }
                run.end(RunStatus.FINISHED, null);
                assertEquals(0, run.unsentCount(), "the live run sent everything once the server was back");
            }
            assertEquals("FINISHED", status(own, runId));
            Map<Long, Integer> steps = stepCounts(own, runId);
            assertEquals(300, steps.size());
            assertTrue(steps.values().stream().allMatch(count -> count == 1), "each step once");
        } finally {
            own.close();
        }
    }

    @Test
    void aFullDiskStopsLoggingWithAnErrorNamingTheSpoolInsteadOfLosingRecords(@TempDir Path spool) throws Exception {
        Path full = Path.of("/dev/full");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(full), "needs /dev/full (Linux)");
        RunSpool runSpool = RunSpool.create(spool, "local-full");
        Files.createSymbolicLink(spool.resolve("local-full/records.jsonl"), full);
        UncheckedIOException error = assertThrows(UncheckedIOException.class,
                () -> runSpool.append("metric", new JsonObject()));
        assertTrue(error.getMessage().startsWith("cannot write the MLflow spool " + spool.resolve("local-full/records.jsonl")),
                error.getMessage());
        assertTrue(error.getMessage().contains("No space left on device"), error.getMessage());
        runSpool.close();
    }

    @Test
    void anUnwritableSpoolDirectoryIsRefusedByItsKey(@TempDir Path dir) throws Exception {
        Path notADirectory = Files.writeString(dir.resolve("spool"), "a file where the spool should be");
        InvalidParamException refused = assertThrows(InvalidParamException.class,
                () -> tracker(notADirectory.resolve("inside"), server.uri()));
        assertEquals("spool_dir", refused.key());
        assertTrue(refused.getMessage().contains(notADirectory.resolve("inside").toString()), refused.getMessage());
    }
}
