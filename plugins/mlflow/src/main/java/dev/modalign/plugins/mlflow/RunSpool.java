package dev.modalign.plugins.mlflow;

import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.mlflow_project.google.gson.Gson;
import org.mlflow_project.google.gson.GsonBuilder;
import org.mlflow_project.google.gson.JsonObject;
import org.mlflow_project.google.gson.JsonParser;

/**
 * A run's records on disk, written before anything goes to the network: {@code <spool_dir>/<local
 * id>/} holds {@code records.jsonl} (append-only, one {@link SpoolRecord} a line, like the embedded
 * store's), {@code state.json} ({@link SpoolState}), {@code artifacts/} (copies of logged files
 * until they are uploaded) and {@code lock}, held by the process that owns the run, so that a sync
 * in another process leaves a live run alone.
 *
 * <p>Appends are flushed to the operating system at once but not fsync'ed: a process crash loses
 * nothing, a power loss may lose the last records (a torn last line is skipped when reading).
 */
final class RunSpool implements Closeable {

    static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeSpecialFloatingPointValues().create();

    private final Path dir;
    private BufferedWriter records;
    private long lastSeq;
    private FileChannel lockChannel;
    private FileLock lock;

    private RunSpool(Path dir, long lastSeq) {
        this.dir = dir;
        this.lastSeq = lastSeq;
    }

    /** A new spool for a new run, locked by this process. */
    static RunSpool create(Path spoolDir, String localId) {
        Path dir = spoolDir.resolve(localId);
        try {
            Files.createDirectories(dir.resolve("artifacts"));
            RunSpool spool = new RunSpool(dir, 0);
            if (!spool.tryLock()) {
                throw new IllegalStateException("spool " + dir + " is locked by another process");
            }
            SpoolState state = new SpoolState();
            state.localId = localId;
            spool.saveState(state);
            return spool;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the MLflow spool " + dir + ": " + e.getMessage(), e);
        }
    }

    /** An existing spool, for a sync; not locked yet. */
    static RunSpool open(Path dir) {
        return new RunSpool(dir, readAfter(dir, 0).stream().mapToLong(SpoolRecord::seq).max().orElse(0));
    }

    Path dir() {
        return dir;
    }

    /** Appends a record with the next seq; the line is in the file when this returns. */
    synchronized SpoolRecord append(String kind, JsonObject data) {
        SpoolRecord record = new SpoolRecord(++lastSeq, System.currentTimeMillis(), kind, data);
        try {
            if (records == null) {
                records = Files.newBufferedWriter(dir.resolve("records.jsonl"), StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            }
            records.write(GSON.toJson(record.toJson()));
            records.write('\n');
            records.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the MLflow spool " + dir.resolve("records.jsonl") + ": "
                    + e.getMessage(), e);
        }
        return record;
    }

    synchronized long lastSeq() {
        return lastSeq;
    }

    /** The records after {@code seq}, in order. */
    List<SpoolRecord> readAfter(long seq) {
        return readAfter(dir, seq);
    }

    private static List<SpoolRecord> readAfter(Path dir, long seq) {
        Path file = dir.resolve("records.jsonl");
        List<SpoolRecord> found = new ArrayList<>();
        if (!Files.exists(file)) {
            return found;
        }
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.isBlank()) {
                    continue;
                }
                SpoolRecord record;
                try {
                    record = SpoolRecord.fromJson(JsonParser.parseString(line).getAsJsonObject());
                } catch (RuntimeException torn) {
                    // Only the last line can be torn (a crash while appending); nothing follows it.
                    break;
                }
                if (record.seq() > seq) {
                    found.add(record);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the MLflow spool " + file + ": " + e.getMessage(), e);
        }
        return found;
    }

    Path artifactCopy(String name) {
        return dir.resolve("artifacts").resolve(name);
    }

    SpoolState loadState() {
        return readState(dir);
    }

    /** A spool's state without reading its records. */
    static SpoolState readState(Path dir) {
        try {
            return GSON.fromJson(Files.readString(dir.resolve("state.json"), StandardCharsets.UTF_8), SpoolState.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve("state.json") + ": " + e.getMessage(), e);
        }
    }

    synchronized void saveState(SpoolState state) {
        Path target = dir.resolve("state.json");
        Path temporary = dir.resolve("state.json.tmp");
        try {
            Files.writeString(temporary, GSON.toJson(state), StandardCharsets.UTF_8);
            Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    static boolean isSpool(Path dir) {
        return Files.isRegularFile(dir.resolve("state.json"));
    }

    /** Takes the spool's lock unless another process (or another spool object) holds it. */
    synchronized boolean tryLock() throws IOException {
        if (lock != null) {
            return true;
        }
        lockChannel = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            lock = lockChannel.tryLock();
        } catch (OverlappingFileLockException heldInThisProcess) {
            lock = null;
        }
        if (lock == null) {
            lockChannel.close();
            lockChannel = null;
            return false;
        }
        return true;
    }

    @Override
    public synchronized void close() {
        try {
            if (records != null) {
                records.close();
                records = null;
            }
            if (lock != null) {
                lock.release();
                lock = null;
            }
            if (lockChannel != null) {
                lockChannel.close();
                lockChannel = null;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close the MLflow spool " + dir + ": " + e.getMessage(), e);
        }
    }
}
