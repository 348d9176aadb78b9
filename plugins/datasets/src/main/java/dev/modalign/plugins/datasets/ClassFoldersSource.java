package dev.modalign.plugins.datasets;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemLoopException;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Labelled files laid out as {@code root/<class>/<file>}, the layout of torchvision's ImageFolder
 * and of most classification benchmarks, for zero-shot and linear-probe evaluation. Classes are the
 * sub-folders of the root, numbered in name order; a class folder's files are found at any depth
 * below it. Hidden folders and files (names starting with '.') are passed over.
 *
 * <p>Fields: {@code image} (the file's {@link Path}, decoded by the tower's modality), {@code label}
 * (the class index, an Integer) and {@code class_name} (the folder's name, for prompts). A record's
 * id and group are its path below the root with '/' separators, its origin the file's path.
 *
 * <pre>{@code
 * data:
 *   eval: {source: folders, root: data/pets/test, fields: {image: image}, label: label}
 *   # one folder split in three by a seeded hash of each file's path (the host's split keys):
 *   train: {source: folders, root: data/pets, split: train, split_fractions: [0.8, 0.1, 0.1]}
 * }</pre>
 */
public final class ClassFoldersSource implements DatasetSource {

    private static final System.Logger LOG = System.getLogger(ClassFoldersSource.class.getName());

    /**
     * @param root the folder holding one sub-folder per class
     * @param extensions the file extensions to read
     */
    public record Params(
            @Doc("Folder holding one sub-folder per class (root/<class>/<file>), relative to the experiment file's"
                    + " directory") String root,
            @Doc("Extensions of the files to read, without the dot, in any case; other files are counted and"
                    + " reported") @Default("[png, jpg, jpeg]") List<String> extensions) {

        public Params {
            if (root == null || root.isBlank()) {
                throw new InvalidParamException("root", "is required: the folder holding one sub-folder per class,"
                        + " relative to the experiment file's directory");
            }
            if (extensions == null || extensions.isEmpty()) {
                throw new InvalidParamException("extensions", "names no extension; e.g. [png, jpg, jpeg]");
            }
            Set<String> normalised = new LinkedHashSet<>();
            for (String extension : extensions) {
                String bare = extension == null ? "" : extension.strip().toLowerCase(Locale.ROOT);
                bare = bare.startsWith(".") ? bare.substring(1) : bare;
                if (bare.isEmpty()) {
                    throw new InvalidParamException("extensions", "holds an empty extension; found " + extensions);
                }
                normalised.add(bare);
            }
            extensions = List.copyOf(normalised);
        }
    }

    /** One file found below a class folder. */
    private record Found(String relative, Path path, int label, long size, long modified) {}

    /** Files passed over (loose in the root, or of another extension): counted and reported once. */
    private static final class Ignored {
        int count;
        String first;

        void add(String relative) {
            if (count++ == 0) {
                first = relative;
            }
        }
    }

    private final List<String> classes;
    private final List<Found> files;
    private final String fingerprint;

    public ClassFoldersSource(Params params, ComponentContext context) {
        Path root = context.baseDir().resolve(params.root()).toAbsolutePath().normalize();
        if (!Files.isDirectory(root)) {
            throw new InvalidParamException("root", (Files.exists(root) ? "a file, not a folder: " : "no such folder: ")
                    + root + "; paths are relative to the experiment file's directory");
        }
        List<Path> classFolders;
        try (Stream<Path> children = Files.list(root)) {
            classFolders = children.filter(Files::isDirectory).filter(p -> !hidden(p))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        } catch (IOException e) {
            throw new DataException("folders root " + root + ": cannot list it: " + e.getMessage(), e);
        }
        if (classFolders.isEmpty()) {
            throw new DataException("folders root " + root + " has no class folders: the layout is root/<class>/<file>,"
                    + " one sub-folder per class");
        }
        Set<String> extensions = Set.copyOf(params.extensions());
        List<String> classNames = new ArrayList<>();
        List<Found> chosen = new ArrayList<>();
        Ignored ignored = new Ignored();
        countLooseFiles(root, ignored);
        for (Path folder : classFolders) {
            int label = classNames.size();
            classNames.add(folder.getFileName().toString());
            List<Found> found = walk(root, folder, label, extensions, ignored);
            if (found.isEmpty()) {
                throw new DataException("folders root " + root + ": the class folder '" + folder.getFileName()
                        + "' has no files with the extensions " + params.extensions() + "; add its files, remove the"
                        + " folder, or set extensions");
            }
            chosen.addAll(found);
        }
        if (ignored.count > 0) {
            LOG.log(Level.INFO, "folders {0}: ignored {1} file(s) that are not in a class folder or have another"
                    + " extension than {2}, e.g. {3}", root, ignored.count, params.extensions(), ignored.first);
        }
        this.classes = List.copyOf(classNames);
        this.files = List.copyOf(chosen);
        this.fingerprint = "folders(root=" + params.root() + ", classes=" + classes.size() + ", files=" + files.size()
                + ", sha256=" + hash(classes, files) + ")";
    }

    @Override
    public long size() {
        return files.size();
    }

    @Override
    public DataRecord get(long index) {
        if (index < 0 || index >= files.size()) {
            throw new IndexOutOfBoundsException("folders source has " + files.size() + " files, asked for " + index);
        }
        Found file = files.get((int) index);
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("image", file.path());
        fields.put("label", file.label());
        fields.put("class_name", classes.get(file.label()));
        return new DataRecord(file.relative(), file.relative(), file.path().toString(),
                Collections.unmodifiableMap(fields));
    }

    @Override
    public String fingerprint() {
        return fingerprint;
    }

    /** The class names in label order: label i is classNames().get(i). */
    public List<String> classNames() {
        return classes;
    }

    /** A class folder's files, sorted by their path below the root, following links. */
    private static List<Found> walk(Path root, Path folder, int label, Set<String> extensions, Ignored ignored) {
        List<Found> found = new ArrayList<>();
        try {
            Files.walkFileTree(folder, EnumSet.of(FileVisitOption.FOLLOW_LINKS), Integer.MAX_VALUE,
                    new SimpleFileVisitor<>() {
                        @Override
                        public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attributes) {
                            return dir.equals(folder) || !hidden(dir) ? FileVisitResult.CONTINUE
                                    : FileVisitResult.SKIP_SUBTREE;
                        }

                        @Override
                        public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                            if (hidden(file) || !attributes.isRegularFile()) {
                                return FileVisitResult.CONTINUE;
                            }
                            String relative = root.relativize(file).toString().replace('\\', '/');
                            if (hasExtension(file, extensions)) {
                                found.add(new Found(relative, file, label, attributes.size(),
                                        attributes.lastModifiedTime().toMillis()));
                            } else {
                                ignored.add(relative);
                            }
                            return FileVisitResult.CONTINUE;
                        }

                        @Override
                        public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                            if (e instanceof FileSystemLoopException) {
                                throw new DataException("folders root " + root + ": the link " + file
                                        + " leads back to a folder above it; remove the link", e);
                            }
                            throw e;
                        }
                    });
        } catch (IOException e) {
            throw new DataException("folders root " + root + ": cannot read the class folder '" + folder.getFileName()
                    + "': " + e, e);
        }
        found.sort(Comparator.comparing(Found::relative));
        return found;
    }

    private static void countLooseFiles(Path root, Ignored ignored) {
        try (Stream<Path> children = Files.list(root)) {
            for (Path loose : children.filter(Files::isRegularFile).filter(p -> !hidden(p)).sorted().toList()) {
                ignored.add(loose.getFileName().toString());
            }
        } catch (IOException e) {
            throw new DataException("folders root " + root + ": cannot list it: " + e.getMessage(), e);
        }
    }

    private static boolean hidden(Path path) {
        Path name = path.getFileName();
        return name != null && name.toString().startsWith(".");
    }

    /** As ImageFolder does: the lower-cased name ends with "." and one of the extensions (which may hold dots). */
    private static boolean hasExtension(Path file, Set<String> extensions) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        for (String extension : extensions) {
            if (name.endsWith("." + extension) && name.length() > extension.length() + 1) {
                return true;
            }
        }
        return false;
    }

    private static String hash(List<String> classes, List<Found> files) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(String.join("\n", classes).getBytes(StandardCharsets.UTF_8));
            for (Found file : files) {
                digest.update(("\n" + file.relative() + "\0" + file.size() + "\0" + file.modified())
                        .getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(digest.digest()).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
