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
 *   <li>{@code run.json}: the run's name, status and times, rewritten atomically when they change.</li>
 * </ul>
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

    @Override
    public void close() {}

    /** Finds {@code <root>/<experiment>/<runId>} and reads its resolved configuration and records back. */
    @Override
    public java.util.Optional<dev.modalign.api.RecordedRun> fetchRun(String runId) {
        if (!runId.matches("[A-Za-z0-9._-]+") || !Files.isDirectory(root)) {
            return java.util.Optional.empty();
        }
        try (java.util.stream.Stream<Path> experiments = Files.list(root)) {
            Path dir = experiments.map(e -> e.resolve(runId)).filter(Files::isDirectory).findFirst().orElse(null);
            if (dir == null) {
                return java.util.Optional.empty();
            }
            Map<String, String> params = new LinkedHashMap<>();
            Map<String, String> tags = new LinkedHashMap<>();
            Map<String, Double> metrics = new LinkedHashMap<>();
            for (String line : Files.readAllLines(dir.resolve("records.jsonl"), StandardCharsets.UTF_8)) {
                com.google.gson.JsonObject record = com.google.gson.JsonParser.parseString(line).getAsJsonObject();
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

    static String safe(String name) {
        return name.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    /** One run's directory. */
    static final class LocalRun implements TrackedRun {
        private final String id;
        private final Path dir;
        private final Writer records;
        private final Map<String, Object> meta = new LinkedHashMap<>();
        private long seq;

        LocalRun(String id, Path dir, RunSpec spec) throws IOException {
            this.id = id;
            this.dir = dir;
            this.records = Files.newBufferedWriter(dir.resolve("records.jsonl"), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
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
