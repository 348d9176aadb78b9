package dev.modalign.core.track;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.modalign.api.MetricPoint;
import dev.modalign.api.RecordedRun;
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
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

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
        Path dir = runDir(runId).orElse(null);
        if (dir == null || !Files.isRegularFile(dir.resolve("run.json"))) {
            return java.util.Optional.empty();
        }
        try {
            return java.util.Optional.of(LocalRun.resume(runId, dir));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot resume run " + runId + " in " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {}

    /**
     * Finds {@code <root>/<experiment>/<runId>} and reads its resolved configuration, records and
     * {@code run.json} back; the configuration is empty when the run logged none (a sweep's parent).
     */
    @Override
    public Optional<RecordedRun> fetchRun(String runId) {
        return runDir(runId).map(dir -> read(dir));
    }

    /**
     * The runs under {@code <root>/<experiment>/}, oldest first, with their resolved configurations.
     * A run that ended with a message carries it as the tag {@code modalign.error}, as in MLflow.
     */
    @Override
    public List<RecordedRun> searchRuns(String experiment) {
        Path dir = root.resolve(safe(experiment));
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<RecordedRun> runs = new ArrayList<>();
        try (Stream<Path> children = Files.list(dir)) {
            for (Path run : children.filter(LocalTracker::isRunDir).sorted().toList()) {
                RecordedRun recorded = read(run);
                // Two experiment names can share a directory name once made safe; run.json has the real one.
                if (recorded.info().experiment().isEmpty() || recorded.info().experiment().equals(experiment)) {
                    runs.add(recorded);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the runs in " + dir + ": " + e.getMessage(), e);
        }
        runs.sort(Comparator.comparingLong((RecordedRun run) -> run.info().startTime()).thenComparing(RecordedRun::runId));
        return runs;
    }

    /** The values of {@code key} in the run's records.jsonl, by step (in logging order within a step). */
    @Override
    public List<MetricPoint> metricHistory(String runId, String key) {
        Optional<Path> dir = runDir(runId);
        if (dir.isEmpty()) {
            return List.of();
        }
        List<MetricPoint> points = new ArrayList<>();
        for (JsonObject record : records(dir.get().resolve("records.jsonl"))) {
            JsonObject data = record.getAsJsonObject("data");
            if (record.get("kind").getAsString().equals("metric") && data.get("key").getAsString().equals(key)) {
                points.add(new MetricPoint(data.get("step").getAsLong(), data.get("value").getAsDouble(),
                        record.get("time").getAsLong()));
            }
        }
        points.sort(Comparator.comparingLong(MetricPoint::step));
        return points;
    }

    /** The experiments that hold runs, by their names in run.json; for suggestions when one is not found. */
    public List<String> experiments() {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        java.util.TreeSet<String> names = new java.util.TreeSet<>();
        try (Stream<Path> experiments = Files.list(root)) {
            for (Path experiment : experiments.filter(Files::isDirectory).toList()) {
                try (Stream<Path> runs = Files.list(experiment)) {
                    runs.filter(LocalTracker::isRunDir).sorted().findFirst().map(LocalTracker::meta)
                            .ifPresent(meta -> names.add(meta.has("experiment") ? meta.get("experiment").getAsString()
                                    : experiment.getFileName().toString()));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the experiments in " + root + ": " + e.getMessage(), e);
        }
        return List.copyOf(names);
    }

    private Optional<Path> runDir(String runId) {
        if (!runId.matches("[A-Za-z0-9._-]+") || !Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> experiments = Files.list(root)) {
            return experiments.map(e -> e.resolve(runId)).filter(LocalTracker::isRunDir).sorted().findFirst();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    private static boolean isRunDir(Path dir) {
        return Files.isRegularFile(dir.resolve("records.jsonl"));
    }

    private static RecordedRun read(Path dir) {
        Map<String, String> params = new LinkedHashMap<>();
        Map<String, String> tags = new LinkedHashMap<>();
        Map<String, Double> metrics = new LinkedHashMap<>();
        Map<String, Long> metricSteps = new LinkedHashMap<>();
        for (JsonObject record : records(dir.resolve("records.jsonl"))) {
            JsonObject data = record.getAsJsonObject("data");
            switch (record.get("kind").getAsString()) {
                case "params" -> data.entrySet().forEach(e -> params.put(e.getKey(), e.getValue().getAsString()));
                case "tags" -> data.entrySet().forEach(e -> tags.put(e.getKey(), e.getValue().getAsString()));
                case "metric" -> {
                    // The last value is the one at the highest step (the latest logged among equals), as in MLflow.
                    String key = data.get("key").getAsString();
                    long step = data.get("step").getAsLong();
                    if (step >= metricSteps.getOrDefault(key, Long.MIN_VALUE)) {
                        metricSteps.put(key, step);
                        metrics.put(key, data.get("value").getAsDouble());
                    }
                }
                default -> { }
            }
        }
        JsonObject meta = meta(dir);
        String runId = dir.getFileName().toString();
        if (meta.has("message") && !tags.containsKey("modalign.error")) {
            tags.put("modalign.error", meta.get("message").getAsString());
        }
        RunStatus status = RunStatus.RUNNING;
        if (meta.has("status")) {
            try {
                status = RunStatus.valueOf(meta.get("status").getAsString());
            } catch (IllegalArgumentException unknown) {
                throw new IllegalStateException(dir.resolve("run.json") + ": unknown status " + meta.get("status"));
            }
        }
        RecordedRun.Info info = new RecordedRun.Info(text(meta, "experiment"), text(meta, "run_name"), status,
                meta.has("parent_run_id") ? meta.get("parent_run_id").getAsString() : null, number(meta, "start_time"),
                number(meta, "end_time"));
        String yaml = "";
        Path resolved = dir.resolve("artifacts/config/resolved.yaml");
        if (Files.isRegularFile(resolved)) {
            try {
                yaml = Files.readString(resolved, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + resolved + ": " + e.getMessage(), e);
            }
        }
        return new RecordedRun(runId, yaml, params, tags, metrics, info);
    }

    private static String text(JsonObject object, String key) {
        return object.has(key) && !object.get(key).isJsonNull() ? object.get(key).getAsString() : "";
    }

    private static long number(JsonObject object, String key) {
        return object.has(key) && !object.get(key).isJsonNull() ? object.get(key).getAsLong() : 0;
    }

    /** run.json, or an empty object for a run whose process died before writing it. */
    private static JsonObject meta(Path dir) {
        Path file = dir.resolve("run.json");
        if (!Files.isRegularFile(file)) {
            return new JsonObject();
        }
        try {
            return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalStateException(file + " is not a run's JSON (" + e.getMessage() + ")", e);
        }
    }

    /**
     * The records of a records.jsonl. A last line cut short is what a crash leaves (the file is
     * append-only): it is skipped; a bad line before the last is an error naming its line.
     */
    private static List<JsonObject> records(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        List<JsonObject> records = new ArrayList<>(lines.size());
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            try {
                records.add(JsonParser.parseString(lines.get(i)).getAsJsonObject());
            } catch (RuntimeException e) {
                if (i < lines.size() - 1) {
                    throw new IllegalStateException(file + ":" + (i + 1) + " is not a JSON record (" + e.getMessage()
                            + "); the store was changed by hand or the disk is damaged", e);
                }
            }
        }
        return records;
    }

    /** {@code <root>/<experiment>/<runId>/artifacts/<artifactPath>}, in whichever experiment holds the run. */
    @Override
    public java.util.Optional<Path> fetchArtifact(String runId, String artifactPath) {
        if (!runId.matches("[A-Za-z0-9._-]+") || !Files.isDirectory(root)) {
            return java.util.Optional.empty();
        }
        try (java.util.stream.Stream<Path> experiments = Files.list(root)) {
            return experiments.map(e -> e.resolve(runId).resolve("artifacts").resolve(artifactPath).normalize())
                    .filter(p -> p.startsWith(root) && Files.isRegularFile(p)).findFirst();
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
