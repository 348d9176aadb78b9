package dev.modalign.core.track;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.modalign.api.RunSpec;
import dev.modalign.api.RunStatus;
import dev.modalign.api.TrackedRun;
import dev.modalign.api.Tracker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The embedded default store: each run is a directory {@code <root>/<experiment>/<run id>/} holding
 * <ul>
 *   <li>{@code records.jsonl}: every record in the order it was logged, one JSON object a line,
 *       numbered by {@code seq} (params, tags, metrics, artifacts, status). Append-only, so a crash
 *       loses at most the line being written, and a sync can replay it into a tracking server,
 *       resuming after the last sequence number the server acknowledged;</li>
 *   <li>{@code artifacts/}: copies of the logged files;</li>
 *   <li>{@code run.json}: the run's name, status and times, rewritten atomically when they change;</li>
 *   <li>{@code lock}: held by the process recording the run, so that a resume elsewhere cannot write to
 *       it at the same time;</li>
 *   <li>{@code checkpoints/}: the run's resumable checkpoints, written by the trainer.</li>
 * </ul>
 *
 * <p>A run is resumed ({@link #resumeRun}) by appending to the same {@code records.jsonl}: a {@code
 * resume} record, then the records of the continued run; {@code run.json} says RUNNING again.
 */
public final class LocalTracker implements Tracker {

    static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeSpecialFloatingPointValues().create();
    private static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private final Path root;

    public LocalTracker(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    @Override
    public TrackedRun startRun(RunSpec spec) {
        String id = LocalDateTime.now().format(ID_TIME) + "-" + HexFormat.of().formatHex(randomBytes());
        Path dir = root.resolve(safe(spec.experiment())).resolve(id);
        try {
            Files.createDirectories(dir.resolve("artifacts"));
            return new LocalRun(id, dir, spec);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the run directory " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The directory of a run of an experiment: {@code <root>/<experiment>/<run id>}. */
    public Path runDirectory(String experiment, String runId) {
        return root.resolve(safe(experiment)).resolve(runId);
    }

    @Override
    public java.util.Optional<TrackedRun> resumeRun(String runId) {
        Path dir = findRun(runId);
        if (dir == null || !Files.isRegularFile(dir.resolve("run.json"))) {
            return java.util.Optional.empty();
        }
        try {
            return java.util.Optional.of(LocalRun.resume(runId, dir));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot resume run " + runId + " in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The directory of a run in any experiment, or null. */
    private Path findRun(String runId) {
        if (!runId.matches("[A-Za-z0-9._-]+") || !Files.isDirectory(root)) {
            return null;
        }
        try (java.util.stream.Stream<Path> experiments = Files.list(root)) {
            return experiments.map(e -> e.resolve(runId)).filter(Files::isDirectory).findFirst().orElse(null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {}

    /** Finds {@code <root>/<experiment>/<runId>} and reads its resolved configuration and records back. */
    @Override
    public java.util.Optional<dev.modalign.api.RecordedRun> fetchRun(String runId) {
        Path dir = findRun(runId);
        if (dir == null) {
            return java.util.Optional.empty();
        }
        try {
            Map<String, String> params = new LinkedHashMap<>();
            Map<String, String> tags = new LinkedHashMap<>();
            Map<String, Double> metrics = new LinkedHashMap<>();
            for (String line : Files.readAllLines(dir.resolve("records.jsonl"), StandardCharsets.UTF_8)) {
                com.google.gson.JsonObject record;
                try {
                    record = com.google.gson.JsonParser.parseString(line).getAsJsonObject();
                } catch (RuntimeException torn) {
                    // Only a process killed while appending leaves a torn line, and only at the end.
                    break;
                }
                com.google.gson.JsonObject data = record.getAsJsonObject("data");
                switch (record.get("kind").getAsString()) {
                    case "params" -> data.entrySet().forEach(e -> params.put(e.getKey(), e.getValue().getAsString()));
                    case "tags" -> data.entrySet().forEach(e -> tags.put(e.getKey(), e.getValue().getAsString()));
                    case "metric" -> metrics.put(data.get("key").getAsString(), data.get("value").getAsDouble());
                    default -> { }
                }
            }
            String yaml = Files.readString(dir.resolve("artifacts/config/resolved.yaml"), StandardCharsets.UTF_8);
            return java.util.Optional.of(new dev.modalign.api.RecordedRun(runId, yaml, params, tags, metrics));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read run " + runId + " under " + root + ": " + e.getMessage(), e);
        }
    }

    private static byte[] randomBytes() {
        byte[] bytes = new byte[3];
        new SecureRandom().nextBytes(bytes);
        return bytes;
    }

    /** An experiment name as a directory name: characters other than letters, digits, '.', '_' and '-' become '_'. */
    public static String safe(String name) {
        return name.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    /** One run's directory. */
    static final class LocalRun implements TrackedRun {
        private final String id;
        private final Path dir;
        private final Writer records;
        private final Map<String, Object> meta = new LinkedHashMap<>();
        private final FileChannel lockChannel;
        private long seq;

        /** Opens the run's files; {@code lockChannel} holds the run's lock. */
        private LocalRun(String id, Path dir, Writer records, FileChannel lockChannel, long seq) {
            this.id = id;
            this.dir = dir;
            this.records = records;
            this.lockChannel = lockChannel;
            this.seq = seq;
        }

        LocalRun(String id, Path dir, RunSpec spec) throws IOException {
            this(id, dir, Files.newBufferedWriter(dir.resolve("records.jsonl"), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), lock(dir, id), 0);
            meta.put("id", id);
            meta.put("experiment", spec.experiment());
            meta.put("run_name", spec.runName());
            if (spec.parentRunId() != null) {
                meta.put("parent_run_id", spec.parentRunId());
            }
            meta.put("status", RunStatus.RUNNING.name());
            meta.put("start_time", System.currentTimeMillis());
            writeMeta();
            append("start", Map.of("experiment", spec.experiment(), "run_name", spec.runName()));
        }

        /**
         * Continues a run: a torn last record (the process was killed while appending it) is cut off, the
         * sequence goes on from the last record, and run.json says RUNNING again.
         */
        static LocalRun resume(String id, Path dir) throws IOException {
            FileChannel lock = lock(dir, id);
            try {
                Path file = dir.resolve("records.jsonl");
                long seq = repairAndCount(file);
                Writer writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE, StandardOpenOption.APPEND);
                LocalRun run = new LocalRun(id, dir, writer, lock, seq);
                @SuppressWarnings("unchecked")
                Map<String, Object> meta = GSON.fromJson(Files.readString(dir.resolve("run.json"), StandardCharsets.UTF_8),
                        Map.class);
                run.meta.putAll(meta);
                String before = String.valueOf(run.meta.get("status"));
                run.meta.put("status", RunStatus.RUNNING.name());
                run.meta.remove("end_time");
                run.meta.remove("message");
                run.meta.put("resume_time", System.currentTimeMillis());
                run.writeMeta();
                run.append("resume", Map.of("previous_status", before));
                return run;
            } catch (IOException | RuntimeException e) {
                lock.close();
                throw e;
            }
        }

        /** Takes the run's lock, or fails naming the run when another process records it. */
        private static FileChannel lock(Path dir, String id) throws IOException {
            FileChannel channel = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException heldHere) {
                lock = null;
            }
            if (lock == null) {
                channel.close();
                throw new IllegalStateException("run " + id + " in " + dir + " is being recorded by another process; stop"
                        + " that one first (or wait for it to end)");
            }
            return channel;
        }

        /** Cuts a torn last line off the records and returns the last sequence number. */
        private static long repairAndCount(Path file) throws IOException {
            if (!Files.exists(file)) {
                return 0;
            }
            byte[] bytes = Files.readAllBytes(file);
            int end = bytes.length;
            if (end > 0 && bytes[end - 1] != '\n') {
                int lastNewline = end - 1;
                while (lastNewline >= 0 && bytes[lastNewline] != '\n') {
                    lastNewline--;
                }
                try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                    channel.truncate(lastNewline + 1);
                }
                end = lastNewline + 1;
            }
            long seq = 0;
            for (String line : new String(bytes, 0, end, StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    seq = Math.max(seq, com.google.gson.JsonParser.parseString(line).getAsJsonObject().get("seq").getAsLong());
                }
            }
            return seq;
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public String location() {
            return dir.toString();
        }

        public Path dir() {
            return dir;
        }

        @Override
        public void logParams(Map<String, String> params) {
            append("params", params);
        }

        @Override
        public void setTags(Map<String, String> tags) {
            append("tags", tags);
        }

        @Override
        public void logMetric(String key, double value, long step) {
            Map<String, Object> data = new LinkedHashMap<>();
            data.put("key", key);
            data.put("value", value);
            data.put("step", step);
            append("metric", data);
        }

        @Override
        public void logArtifact(Path file, String artifactPath) {
            Path target = dir.resolve("artifacts").resolve(artifactPath).normalize();
            if (!target.startsWith(dir.resolve("artifacts"))) {
                throw new IllegalArgumentException("artifact path must stay inside the run: " + artifactPath);
            }
            try {
                Files.createDirectories(target.getParent());
                Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot copy artifact " + file + " to " + target + ": " + e.getMessage(), e);
            }
            append("artifact", Map.of("path", artifactPath));
        }

        @Override
        public void end(RunStatus status, String message) {
            Map<String, Object> data = new LinkedHashMap<>();
            data.put("status", status.name());
            if (message != null) {
                data.put("message", message);
            }
            append("end", data);
            meta.put("status", status.name());
            meta.put("end_time", System.currentTimeMillis());
            if (message != null) {
                meta.put("message", message);
            }
            writeMeta();
            try {
                records.close();
                lockChannel.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** Closes the run's files and lock without ending it, as a process that dies does; for tests. */
        void release() {
            try {
                records.close();
                lockChannel.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private synchronized void append(String kind, Object data) {
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("seq", ++seq);
            record.put("time", System.currentTimeMillis());
            record.put("kind", kind);
            record.put("data", data);
            try {
                records.write(GSON.toJson(record));
                records.write('\n');
                records.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + dir.resolve("records.jsonl") + ": " + e.getMessage(), e);
            }
        }

        private void writeMeta() {
            Path target = dir.resolve("run.json");
            Path temporary = dir.resolve("run.json.tmp");
            try {
                Files.writeString(temporary, GSON.toJson(meta), StandardCharsets.UTF_8);
                Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
            }
        }
    }
}
