package dev.modalign.core.train;

import dev.modalign.core.UserError;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Where a resumed run starts: the run's id in its tracker and the newest checkpoint of it that loads.
 *
 * <p>Checkpoints live in {@code <run directory>/checkpoints/} for the embedded store and in {@code
 * <cache>/checkpoints/<experiment>/<run id>/} for a tracking server. {@code --resume} takes a run id,
 * a run's directory, its checkpoints directory, one checkpoint directory, or nothing (the latest run of
 * the experiment that has a checkpoint).
 *
 * @param runId the run to continue
 * @param checkpoint the checkpoint to continue from
 */
record ResumePoint(String runId, Checkpoint checkpoint) {

    /** What {@code --resume} without a value stands for. */
    static final String LATEST = "latest";

    /**
     * Configuration keys that may differ between a checkpoint and the run resuming it: where the run is
     * recorded, how it is logged and checkpointed, how many loader threads read, and the evaluators (which
     * do not change training).
     */
    private static final List<String> FREE_KEYS = List.of("tracking.", "train.workers", "train.log_every",
            "train.checkpoint_every", "train.keep_checkpoints", "train.device", "train.on_nonfinite",
            "train.max_skipped_steps", "train.on_data_error", "evaluate.", "evaluate");

    Path root() {
        return checkpoint.dir().getParent();
    }

    /**
     * Finds the checkpoint to resume from.
     *
     * @param what "latest", a run id, or a directory
     * @param localStore the embedded store's directory when runs are recorded there, else null
     * @param cacheDir the cache directory (checkpoints of runs in a tracking server)
     * @param experiment the experiment's name in the tracker
     * @param warn receives a line for each checkpoint skipped because it does not load
     */
    static ResumePoint locate(String what, Path localStore, Path cacheDir, String experiment, Consumer<String> warn) {
        Path root;
        Path given = what.equals(LATEST) ? null : Path.of(what);
        if (what.equals(LATEST)) {
            root = latestRoot(localStore, cacheDir, experiment);
        } else if (Files.isDirectory(given) && Checkpoint.isCheckpoint(given)) {
            try {
                Checkpoint chosen = Checkpoint.open(given);
                return new ResumePoint(chosen.manifest().runId(), chosen);
            } catch (Checkpoint.CorruptCheckpointException e) {
                throw new UserError("cannot resume from " + given + ": " + e.getMessage()
                        + "; give the run's directory to resume from its newest checkpoint that loads");
            }
        } else if (Files.isDirectory(given)) {
            root = Files.isDirectory(given.resolve("checkpoints")) ? given.resolve("checkpoints") : given;
            if (Checkpoint.list(root).isEmpty()) {
                throw new UserError("--resume " + what + ": no checkpoints (step-N directories) in " + root);
            }
        } else if (what.matches("[A-Za-z0-9._-]+")) {
            root = rootOfRun(what, localStore, cacheDir).orElseThrow(() -> new UserError("--resume " + what
                    + ": no checkpoints of a run with this id in " + (localStore != null ? localStore.toAbsolutePath()
                    : cacheDir.resolve("checkpoints").toAbsolutePath()) + "; give the id 'run' printed, or the run's"
                    + " directory"));
        } else {
            throw new UserError("--resume " + what + " is neither a directory nor a run id");
        }
        Checkpoint checkpoint = Checkpoint.latest(root, warn).orElseThrow(() -> new UserError("no checkpoint in " + root
                + " loads; the run cannot be resumed, start it again without --resume"));
        return new ResumePoint(checkpoint.manifest().runId(), checkpoint);
    }

    /**
     * Refuses a resume whose configuration differs from the checkpoint's in anything that changes
     * training, listing the differences.
     */
    void requireSameConfiguration(Map<String, String> current, String file) {
        Map<String, String> saved = checkpoint.manifest().config();
        TreeSet<String> keys = new TreeSet<>(saved.keySet());
        keys.addAll(current.keySet());
        List<String> differences = new ArrayList<>();
        for (String key : keys) {
            if (FREE_KEYS.stream().anyMatch(free -> free.endsWith(".") ? key.startsWith(free) : key.equals(free))) {
                continue;
            }
            String before = saved.get(key);
            String now = current.get(key);
            if (before == null ? now != null : !before.equals(now)) {
                differences.add(key + ": " + (before == null ? "(none)" : before) + " -> " + (now == null ? "(none)" : now));
            }
        }
        if (!differences.isEmpty()) {
            throw new UserError(file + " differs from the configuration of run " + runId + " at its checkpoint "
                    + checkpoint.dir() + " in " + differences.size() + " value" + (differences.size() == 1 ? "" : "s") + " ("
                    + String.join("; ", differences.size() <= 5 ? differences : differences.subList(0, 5))
                    + (differences.size() > 5 ? "; ..." : "") + "); a run resumes with the configuration it started with:"
                    + " undo the change, or start a new run without --resume");
        }
    }

    /** The checkpoints directory of a run known by its id. */
    private static Optional<Path> rootOfRun(String runId, Path localStore, Path cacheDir) {
        Path base = localStore != null ? localStore : cacheDir.resolve("checkpoints");
        if (!Files.isDirectory(base)) {
            return Optional.empty();
        }
        try (Stream<Path> experiments = Files.list(base)) {
            return experiments.map(e -> localStore != null ? e.resolve(runId).resolve("checkpoints") : e.resolve(runId))
                    .filter(Files::isDirectory).findFirst();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + base + ": " + e.getMessage(), e);
        }
    }

    /** The checkpoints directory of the experiment's run whose newest checkpoint was written last. */
    private static Path latestRoot(Path localStore, Path cacheDir, String experiment) {
        String safe = dev.modalign.core.track.LocalTracker.safe(experiment);
        Path runs = localStore != null ? localStore.resolve(safe) : cacheDir.resolve("checkpoints").resolve(safe);
        List<Path> roots = new ArrayList<>();
        if (Files.isDirectory(runs)) {
            try (Stream<Path> dirs = Files.list(runs)) {
                dirs.map(d -> localStore != null ? d.resolve("checkpoints") : d)
                        .filter(d -> !Checkpoint.list(d).isEmpty()).forEach(roots::add);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + runs + ": " + e.getMessage(), e);
            }
        }
        return roots.stream().max(Comparator.comparing(ResumePoint::newestWrite)).orElseThrow(() -> new UserError(
                "--resume: no run of experiment '" + experiment + "' has a checkpoint in " + runs.toAbsolutePath()
                        + "; give a run id or directory, or start a new run without --resume"));
    }

    private static java.nio.file.attribute.FileTime newestWrite(Path root) {
        try {
            return Files.getLastModifiedTime(Checkpoint.list(root).get(0));
        } catch (IOException e) {
            return java.nio.file.attribute.FileTime.fromMillis(0);
        }
    }
}
