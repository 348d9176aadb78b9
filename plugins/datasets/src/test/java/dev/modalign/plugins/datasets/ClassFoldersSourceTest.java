package dev.modalign.plugins.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.PluginContract;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClassFoldersSourceTest extends PluginContract {

    @TempDir
    Path experimentDir;

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return DatasetsPlugin.FOLDERS;
    }

    private ClassFoldersSource folders(String root, List<String> extensions) {
        return (ClassFoldersSource) DatasetsPlugin.FOLDERS.create(
                new ClassFoldersSource.Params(root, extensions),
                TestContext.builder().optBaseDir(experimentDir).build());
    }

    private ClassFoldersSource folders(String root) {
        return folders(root, List.of("png", "jpg", "jpeg"));
    }

    private Path touch(String relative) throws IOException {
        Path file = experimentDir.resolve(relative);
        Files.createDirectories(file.getParent());
        return Files.writeString(file, relative);
    }

    @Test
    void classesAreSubFoldersInNameOrderAndFilesAreFoundAtAnyDepth() throws IOException {
        touch("pets/dog/b.png");
        touch("pets/dog/a.JPG");
        touch("pets/dog/notes.txt");
        touch("pets/dog/.thumb.png");
        touch("pets/cat/sub/c.jpeg");
        touch("pets/cat/x.png");
        touch("pets/bird/y.jpg");
        touch("pets/.cache/z.png");
        touch("pets/readme.png");
        ClassFoldersSource source = folders("pets");
        assertEquals(List.of("bird", "cat", "dog"), source.classNames());
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < source.size(); i++) {
            ids.add(source.get(i).id());
        }
        assertEquals(List.of("bird/y.jpg", "cat/sub/c.jpeg", "cat/x.png", "dog/a.JPG", "dog/b.png"), ids);
        DataRecord dog = source.get(4);
        assertEquals(experimentDir.resolve("pets/dog/b.png"), dog.field("image"));
        assertEquals(2, dog.field("label"));
        assertEquals("dog", dog.field("class_name"));
        assertEquals(dog.field("image").toString(), dog.origin());
        assertEquals("dog/b.png", dog.group());
        assertEquals(List.of("image", "label", "class_name"), List.copyOf(dog.fields().keySet()));
        assertEquals(1, source.get(1).field("label"));
        assertEquals(0, source.get(0).field("label"));

        ClassFoldersSource named = folders("pets", List.of(".JPG", "jpeg"));
        assertEquals(List.of("bird/y.jpg", "cat/sub/c.jpeg", "dog/a.JPG"), List.copyOf(new TreeSet<>(ids(named))));
        assertEquals(3, named.size());
    }

    @Test
    void anEmptyRootOrClassIsAnErrorNamingIt() throws IOException {
        Files.createDirectories(experimentDir.resolve("empty"));
        DataException empty = assertThrows(DataException.class, () -> folders("empty"));
        assertTrue(empty.getMessage().contains(experimentDir.resolve("empty").toString()), empty.getMessage());
        assertTrue(empty.getMessage().contains("no class folders"), empty.getMessage());

        touch("some/cat/a.png");
        touch("some/dog/notes.txt");
        DataException noFiles = assertThrows(DataException.class, () -> folders("some"));
        assertTrue(noFiles.getMessage().contains(experimentDir.resolve("some").toString())
                && noFiles.getMessage().contains("'dog'"), noFiles.getMessage());

        InvalidParamException missing = assertThrows(InvalidParamException.class, () -> folders("nowhere"));
        assertEquals("root", missing.key());
        assertEquals("extensions", assertThrows(InvalidParamException.class,
                () -> folders("some", List.of())).key());
    }

    @Test
    void fingerprintChangesWhenAFileDoes() throws IOException {
        Path file = touch("fp/a/1.png");
        touch("fp/b/2.png");
        String original = folders("fp").fingerprint();
        assertEquals(original, folders("fp").fingerprint());
        assertTrue(original.startsWith("folders(root=fp, classes=2, files=2, sha256="), original);
        Files.setLastModifiedTime(file, FileTime.fromMillis(Files.getLastModifiedTime(file).toMillis() + 60_000));
        assertNotEquals(original, folders("fp").fingerprint());
    }

    private static Set<String> ids(ClassFoldersSource source) {
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < source.size(); i++) {
            ids.add(source.get(i).id());
        }
        return ids;
    }
}
