package dev.modalign.core.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One resumable checkpoint: a directory {@code <root>/step-<N>/} of files and a {@code manifest.json}
 * that lists each file with its size and SHA-256, the training position and the run's configuration.
 *
 * <p>A checkpoint is built in a hidden temporary directory beside it; every file is flushed to disk,
 * the manifest is written last, and only then is the directory renamed to {@code step-<N>} (one atomic
 * rename on POSIX file systems). A process killed at any moment therefore leaves either the complete
 * checkpoint or a temporary directory that loading ignores and the next write removes. Loading checks
 * every file against the manifest, so a checkpoint damaged later (a disk error, a copy cut short) is
 * reported and skipped for the one before it rather than loaded.
 */
public final class Checkpoint {

    /** The manifest's format; a newer one is refused by name rather than misread. */
    static final int FORMAT = 1;
    static final String MANIFEST = "manifest.json";
    private static final String PARTIAL = ".partial-";
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping()
            .serializeSpecialFloatingPointValues().create();

    /**
     * What a checkpoint holds besides its files.
     *
     * @param format {@link #FORMAT}
     * @param runId the run's id in its tracker
     * @param experiment the experiment's name in the tracker
     * @param step training steps completed; the next step is this one
     * @param epoch the epoch of the next step
     * @param batch the index in its epoch of the next step's batch
     * @param totalSteps the steps the run takes in all
     * @param lastLoss the total loss of the last step taken (NaN before the first)
     * @param skippedSteps steps skipped for a non-finite loss or gradient so far
     * @param skippedRecords records skipped so far for failing to load
     * @param rng how the run's randomness is restored (every generator is derived from the seed and the position)
     * @param config the run's flattened resolved configuration, to refuse resuming with another
     * @param files each file's size and SHA-256
     * @param written when it was written (ISO-8601)
     */
    public record Manifest(int format, String runId, String experiment, long step, int epoch, long batch, long totalSteps,
            double lastLoss, long skippedSteps, long skippedRecords, String rng, Map<String, String> config,
            Map<String, FileEntry> files, String written) {}

    /** A file of a checkpoint: its size in bytes and its SHA-256 in hex. */
    public record FileEntry(long bytes, String sha256) {}

    /** A checkpoint that cannot be loaded: a missing or damaged file, or an unreadable manifest. */
    public static final class CorruptCheckpointException extends IOException {
        CorruptCheckpointException(String message) {
            super(message);
        }
    }

    private final Path dir;
    private final Manifest manifest;

    private Checkpoint(Path dir, Manifest manifest) {
        this.dir = dir;
        this.manifest = manifest;
    }

    public Path dir() {
        return dir;
    }

    public Manifest manifest() {
        return manifest;
    }

    /** Whether the checkpoint has a file of this name. */
    boolean has(String name) {
        return manifest.files().containsKey(name);
    }

    /** Opens one of the checkpoint's files; the caller closes the stream. */
    DataInputStream read(String name) throws IOException {
        if (!has(name)) {
            throw new NoSuchFileException(dir.resolve(name).toString(), null, "not listed in the checkpoint's manifest");
        }
        return new DataInputStream(new BufferedInputStream(Files.newInputStream(dir.resolve(name))));
    }

    /** The step a directory name {@code step-<N>} stands for, or -1 for any other name. */
    static long stepOf(Path dir) {
        Matcher matcher = STEP_DIR.matcher(dir.getFileName().toString());
        return matcher.matches() ? Long.parseLong(matcher.group(1)) : -1;
    }

    /** Whether a directory looks like a checkpoint (it has a manifest), without verifying it. */
    static boolean isCheckpoint(Path dir) {
        return Files.isRegularFile(dir.resolve(MANIFEST));
    }

    /** Reads a checkpoint and verifies every file against its manifest. */
    static Checkpoint open(Path dir) throws CorruptCheckpointException {
        Manifest manifest;
        try {
            manifest = GSON.fromJson(Files.readString(dir.resolve(MANIFEST), StandardCharsets.UTF_8), Manifest.class);
        } catch (NoSuchFileException e) {
            throw new CorruptCheckpointException(dir + " has no " + MANIFEST + " (its write did not finish)");
        } catch (IOException | JsonParseException e) {
            throw new CorruptCheckpointException(dir.resolve(MANIFEST) + " cannot be read: " + e.getMessage());
        }
        if (manifest == null || manifest.files() == null || manifest.config() == null) {
            throw new CorruptCheckpointException(dir.resolve(MANIFEST) + " is incomplete");
        }
        if (manifest.format() != FORMAT) {
            throw new CorruptCheckpointException(dir + " has checkpoint format " + manifest.format() + "; this modalign"
                    + " reads format " + FORMAT);
        }
        for (Map.Entry<String, FileEntry> file : manifest.files().entrySet()) {
            Path path = dir.resolve(file.getKey());
            try {
                long size = Files.size(path);
                if (size != file.getValue().bytes()) {
                    throw new CorruptCheckpointException(path + " has " + size + " bytes, the manifest says "
                            + file.getValue().bytes());
                }
                String digest = sha256(path);
                if (!digest.equals(file.getValue().sha256())) {
                    throw new CorruptCheckpointException(path + " does not match its SHA-256 in the manifest");
                }
            } catch (NoSuchFileException e) {
                throw new CorruptCheckpointException(path + " is missing");
            } catch (CorruptCheckpointException e) {
                throw e;
            } catch (IOException e) {
                throw new CorruptCheckpointException("cannot read " + path + ": " + e.getMessage());
            }
        }
        return new Checkpoint(dir, manifest);
    }

    /** The checkpoint directories under {@code root}, newest (highest step) first. */
    static List<Path> list(Path root) {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(root)) {
            return entries.filter(p -> stepOf(p) >= 0 && Files.isDirectory(p))
                    .sorted(Comparator.comparingLong(Checkpoint::stepOf).reversed()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the checkpoints in " + root + ": " + e.getMessage(), e);
        }
    }

    /**
     * The newest checkpoint under {@code root} that loads. Each newer one that does not is reported to
     * {@code warn}, with the reason, and removed, so that it is neither tried again nor kept in place of
     * good ones when old checkpoints are pruned.
     */
    static Optional<Checkpoint> latest(Path root, Consumer<String> warn) {
        for (Path dir : list(root)) {
            try {
                return Optional.of(open(dir));
            } catch (CorruptCheckpointException e) {
                warn.accept("checkpoint " + dir + " cannot be loaded (" + e.getMessage() + "); it is removed and the one"
                        + " before it is used");
                discard(dir);
            }
        }
        return Optional.empty();
    }

    /** Keeps the {@code keep} newest checkpoints under {@code root}; removes older ones and leftovers of cut writes. */
    static void prune(Path root, int keep) {
        List<Path> checkpoints = list(root);
        for (int i = keep; i < checkpoints.size(); i++) {
            discard(checkpoints.get(i));
        }
        try (Stream<Path> entries = Files.list(root)) {
            entries.filter(p -> p.getFileName().toString().startsWith(".") && p.getFileName().toString().contains(PARTIAL))
                    .forEach(Checkpoint::deleteTree);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the checkpoints in " + root + ": " + e.getMessage(), e);
        }
    }

    /** Removes the checkpoints newer than {@code step}: a run resumed from an earlier one makes them anew. */
    static void removeAfter(Path root, long step) {
        for (Path dir : list(root)) {
            if (stepOf(dir) > step) {
                discard(dir);
            }
        }
    }

    /** Writes one file's content. */
    interface Content {
        void write(DataOutputStream out) throws IOException;
    }

    /**
     * Builds a checkpoint in a temporary directory under {@code root}; {@link #commit} writes the
     * manifest and renames the directory into place. Closing an uncommitted writer removes what it wrote.
     */
    static final class Writer implements AutoCloseable {
        private final Path root;
        private final long step;
        private final Path temporary;
        private final Map<String, FileEntry> files = new LinkedHashMap<>();
        private boolean committed;

        Writer(Path root, long step) throws IOException {
            this.root = Files.createDirectories(root);
            this.step = step;
            this.temporary = Files.createDirectory(root.resolve(".step-" + step + PARTIAL + System.nanoTime()));
        }

        /** Writes a file of the checkpoint, flushed to disk, recording its size and digest. */
        void file(String name, Content content) throws IOException {
            if (name.equals(MANIFEST) || name.contains("/") || name.contains("\\") || files.containsKey(name)) {
                throw new IllegalArgumentException("bad or repeated checkpoint file name: " + name);
            }
            Path path = temporary.resolve(name);
            MessageDigest digest = sha256();
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                DigestOutputStream digesting = new DigestOutputStream(Channels.newOutputStream(channel), digest);
                DataOutputStream out = new DataOutputStream(new BufferedOutputStream(digesting, 1 << 16));
                content.write(out);
                out.flush();
                channel.force(true);
            }
            files.put(name, new FileEntry(Files.size(path), HexFormat.of().formatHex(digest.digest())));
        }

        /**
         * Writes the manifest (with the file list filled in) last, then renames the directory to
         * {@code step-<N>}, replacing an existing checkpoint of that step.
         */
        Checkpoint commit(Manifest manifest) throws IOException {
            Manifest complete = new Manifest(FORMAT, manifest.runId(), manifest.experiment(), step, manifest.epoch(),
                    manifest.batch(), manifest.totalSteps(), manifest.lastLoss(), manifest.skippedSteps(),
                    manifest.skippedRecords(), manifest.rng(), manifest.config(), Map.copyOf(files), Instant.now().toString());
            Path manifestFile = temporary.resolve(MANIFEST);
            try (FileChannel channel = FileChannel.open(manifestFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                    OutputStream out = Channels.newOutputStream(channel)) {
                out.write(GSON.toJson(complete).getBytes(StandardCharsets.UTF_8));
                channel.force(true);
            }
            Path target = root.resolve("step-" + step);
            if (Files.exists(target)) {
                // A resumed run writing a step again: a rename cannot replace a directory, so the old one goes first.
                discard(target);
            }
            try {
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException | DirectoryNotEmptyException e) {
                throw new IOException("cannot rename " + temporary + " to " + target + " atomically: " + e.getMessage(), e);
            }
            forceDirectory(root);
            committed = true;
            return new Checkpoint(target, complete);
        }

        @Override
        public void close() {
            if (!committed) {
                deleteTree(temporary);
            }
        }
    }

    /**
     * Removes a checkpoint so that no moment of it is visible as a damaged checkpoint: it is first renamed
     * to a hidden leftover name (atomically), then deleted; a process killed in between leaves a leftover
     * that loading ignores and {@link #prune} removes, never a {@code step-<N>} with some files gone.
     */
    static void discard(Path checkpoint) {
        Path leftover = checkpoint.resolveSibling("." + checkpoint.getFileName() + PARTIAL + "discarded-" + System.nanoTime());
        try {
            Files.move(checkpoint, leftover, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the checkpoint " + checkpoint + ": " + e.getMessage(), e);
        }
        deleteTree(leftover);
    }

    /** Flushes a directory's entries (the rename) to disk where the platform allows it. */
    private static void forceDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Not every platform can open a directory; the rename itself is still atomic.
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            List<Path> all = new ArrayList<>(walk.toList());
            all.sort(Comparator.reverseOrder());
            for (Path path : all) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir + ": " + e.getMessage(), e);
        }
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest digest = sha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
