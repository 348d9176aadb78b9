package dev.modalign.plugins.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.InvalidParamException;
import dev.modalign.testkit.PluginContract;
import dev.modalign.testkit.TestContext;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestSourceTest extends PluginContract {

    @TempDir
    Path experimentDir;

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return DatasetsPlugin.MANIFEST;
    }

    private Path write(String relative, String content) throws IOException {
        Path file = experimentDir.resolve(relative);
        Files.createDirectories(file.getParent());
        Files.writeString(file, content, StandardCharsets.UTF_8);
        return file;
    }

    private ManifestSource manifest(String path, List<String> pathFields, String groupField, String onError) {
        return manifest(new ManifestSource.Params(path, "auto", pathFields, groupField, onError));
    }

    private ManifestSource manifest(ManifestSource.Params params) {
        return (ManifestSource) DatasetsPlugin.MANIFEST.create(
                params, TestContext.builder().optBaseDir(experimentDir).build());
    }

    @Test
    void csvKeepsQuotedCommasQuotesAndLineBreaks() throws IOException {
        write("train.csv", "id,caption,score\r\n"
                + "a,\"a dog, running\",1\r\n"
                + "b,\"she said \"\"hi\"\"\",2\r\n"
                + "c,\"two\nlines\",3\r\n"
                + "\r\n"
                + "d,plain,\r\n"
                + "e,\"\",5");
        ManifestSource source = manifest("train.csv", null, null, "fail");
        assertEquals(5, source.size());
        assertEquals(Map.of("id", "a", "caption", "a dog, running", "score", "1"), source.get(0).fields());
        assertEquals("she said \"hi\"", source.get(1).field("caption"));
        assertEquals("two\nlines", source.get(2).field("caption"));
        // Lines count the file's lines: the quoted line break spans lines 4-5, line 6 is blank (no record).
        assertEquals("train.csv:7", source.get(3).origin());
        assertEquals("7", source.get(3).id());
        assertEquals("7", source.get(3).group());
        assertEquals("", source.get(3).field("score"));
        assertEquals("", source.get(4).field("caption"));
        assertEquals(List.of("id", "caption", "score"), List.copyOf(source.get(0).fields().keySet()));
    }

    @Test
    void tsvSplitsOnTabsAndKeepsCommas() throws IOException {
        write("pairs.tsv", "\uFEFFimage_path\tcaption\n"
                + "img/1.png\ta cat, asleep\n"
                + "img/2.png\t\"quoted\ttab\"\n");
        ManifestSource source = manifest("pairs.tsv", null, null, "fail");
        assertEquals(2, source.size());
        assertEquals("a cat, asleep", source.get(0).field("caption"));
        assertEquals("quoted\ttab", source.get(1).field("caption"));
        assertEquals(experimentDir.resolve("img/1.png"), source.get(0).field("image_path"));
    }

    @Test
    void jsonLinesGiveStringsNumbersVectorsAndJsonText() throws IOException {
        write("data.jsonl", "{\"caption\": \"caf\\u00e9 \\\"noir\\\"\\n\", \"label\": 3, \"weight\": 0.5}\n"
                + "\n"
                + "{\"caption\": \"x\", \"embedding\": [1, -2.5, 3e2], \"meta\": {\"a\": [1, \"b\"]}, \"note\": null,"
                + " \"ok\": true, \"tags\": [\"a\", \"b\"]}\r\n");
        ManifestSource source = manifest("data.jsonl", null, null, "fail");
        assertEquals(2, source.size());
        DataRecord first = source.get(0);
        assertEquals("café \"noir\"\n", first.field("caption"));
        assertEquals(3L, first.field("label"));
        assertEquals(0.5, first.field("weight"));
        assertEquals("data.jsonl:1", first.origin());
        DataRecord second = source.get(1);
        assertEquals("data.jsonl:3", second.origin());
        assertArrayEquals(new float[] {1f, -2.5f, 300f}, (float[]) second.field("embedding"));
        assertEquals("{\"a\": [1, \"b\"]}", second.field("meta"));
        assertEquals("[\"a\", \"b\"]", second.field("tags"));
        assertEquals("true", second.field("ok"));
        assertFalse(second.fields().containsKey("note"), "a null leaves the field out");
        assertFalse(first.fields().containsKey("embedding"), "a field another row has is absent here");
    }

    @Test
    void pathFieldsResolveAgainstTheManifestsDirectory() throws IOException {
        write("data/coco/train.csv", "image_path,audio_file,caption,url\n"
                + "images/1.jpg,../sounds/1.wav,a dog,s3:x/1.jpg\n"
                + ",/abs/2.wav,no image,\n");
        Path directory = experimentDir.resolve("data/coco");
        ManifestSource byName = manifest("data/coco/train.csv", null, null, "fail");
        assertEquals(directory.resolve("images/1.jpg"), byName.get(0).field("image_path"));
        assertEquals(experimentDir.resolve("data/sounds/1.wav"), byName.get(0).field("audio_file"));
        assertEquals("s3:x/1.jpg", byName.get(0).field("url"), "a field not named as a path stays text");
        assertEquals(Path.of("/abs/2.wav"), byName.get(1).field("audio_file"));
        assertFalse(byName.get(1).fields().containsKey("image_path"), "an empty path is no path");

        ManifestSource named = manifest("data/coco/train.csv", List.of("url"), null, "fail");
        assertEquals("images/1.jpg", named.get(0).field("image_path"));
        assertEquals(directory.resolve("s3:x/1.jpg"), named.get(0).field("url"));

        ManifestSource none = manifest("data/coco/train.csv", List.of(), null, "fail");
        assertEquals("images/1.jpg", none.get(0).field("image_path"));

        InvalidParamException unknown = assertThrows(InvalidParamException.class,
                () -> manifest("data/coco/train.csv", List.of("image"), null, "fail"));
        assertEquals("path_fields", unknown.key());
        assertTrue(unknown.getMessage().contains("image_path"), unknown.getMessage());
    }

    @Test
    void groupFieldMakesCaptionsOfOneImageOneItem() throws IOException {
        write("captions.jsonl", "{\"image_id\": 17, \"caption\": \"a\"}\n"
                + "{\"image_id\": 17, \"caption\": \"b\"}\n"
                + "{\"image_id\": \"18\", \"caption\": \"c\"}\n");
        ManifestSource source = manifest("captions.jsonl", null, "image_id", "fail");
        assertEquals("17", source.get(0).group());
        assertEquals("17", source.get(1).group());
        assertEquals("18", source.get(2).group());
        assertNotEquals(source.get(0).id(), source.get(1).id());
        assertEquals("group_field", assertThrows(InvalidParamException.class,
                () -> manifest("captions.jsonl", null, "imageid", "fail")).key());
    }

    private void writeWithMalformedRows() throws IOException {
        write("train.csv", "image_path,caption\n"
                + "1.png,one\n"
                + "2.png,two,extra\n"
                + "3.png,three\n"
                + "4.png,\"four\"x\n"
                + "5.png,five\n");
    }

    @Test
    void malformedRowFailsNamingFileAndLine() throws IOException {
        writeWithMalformedRows();
        DataException error = assertThrows(DataException.class, () -> manifest("train.csv", null, null, "fail"));
        assertTrue(error.getMessage().contains(experimentDir.resolve("train.csv") + ":3: expected 2 fields"),
                error.getMessage());
        assertTrue(error.getMessage().contains("on_error: skip"), error.getMessage());
    }

    @Test
    void malformedRowsAreSkippedCountedAndReportedOnce() throws IOException {
        writeWithMalformedRows();
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        ManifestSource source;
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            source = manifest("train.csv", null, null, "skip");
        } finally {
            System.setErr(stderr);
        }
        assertEquals(2, source.skippedRows());
        assertEquals(3, source.size());
        assertEquals(List.of("train.csv:2", "train.csv:4", "train.csv:6"),
                List.of(source.get(0).origin(), source.get(1).origin(), source.get(2).origin()));
        String report = captured.toString(StandardCharsets.UTF_8);
        assertTrue(report.startsWith("manifest train.csv: skipped 2 malformed rows (first: line 3: expected 2 fields"),
                report);
        assertEquals(1, report.lines().count(), report);
    }

    @Test
    void malformedJsonLineIsSkippedWithItsLine() throws IOException {
        write("data.jsonl", "{\"caption\": \"a\"}\n{\"caption\": \"b\",}\n[1]\n{\"caption\": \"c\"}\n");
        ManifestSource source = manifest("data.jsonl", null, null, "skip");
        assertEquals(2, source.skippedRows());
        assertEquals("c", source.get(1).field("caption"));
        DataException error = assertThrows(DataException.class, () -> manifest("data.jsonl", null, null, "fail"));
        assertTrue(error.getMessage().contains("data.jsonl:2: not a JSON object"), error.getMessage());
    }

    @Test
    void anUnclosedQuoteFailsEvenWhenSkipping() throws IOException {
        write("train.csv", "a,b\n1,2\n3,\"never closed\n4,5\n");
        DataException error = assertThrows(DataException.class, () -> manifest("train.csv", null, null, "skip"));
        assertTrue(error.getMessage().contains("train.csv:3: the quote that opens field 2 is never closed"),
                error.getMessage());
    }

    @Test
    void fingerprintFollowsTheFilesBytes() throws IOException {
        write("train.csv", "caption\na\nb\n");
        String before = manifest("train.csv", null, null, "fail").fingerprint();
        assertTrue(before.matches("manifest\\(path=train\\.csv, sha256=[0-9a-f]{12}, records=2\\)"), before);
        assertEquals(before, manifest("train.csv", null, null, "fail").fingerprint());
        write("train.csv", "caption\na\nc\n");
        String after = manifest("train.csv", null, null, "fail").fingerprint();
        assertNotEquals(before, after);
        assertTrue(after.endsWith("records=2)"), after);
    }

    @Test
    void aMissingFileIsNamedWithWherePathsAreRelativeTo() {
        InvalidParamException error = assertThrows(InvalidParamException.class,
                () -> manifest("nowhere/train.csv", null, null, "fail"));
        assertEquals("path", error.key());
        assertEquals("no such file: " + experimentDir.resolve("nowhere/train.csv").toAbsolutePath()
                + "; paths are relative to the experiment file's directory", error.getMessage());
    }

    @Test
    void formatComesFromTheExtensionOrTheParameter() throws IOException {
        write("pairs.txt", "a\tb\n1\t2,3\n");
        assertEquals("format", assertThrows(InvalidParamException.class,
                () -> manifest("pairs.txt", null, null, "fail")).key());
        ManifestSource tsv = manifest(new ManifestSource.Params("pairs.txt", "TSV", null, null, "fail"));
        assertEquals("2,3", tsv.get(0).field("b"));
    }

    @Test
    void emptyOrHeaderOnlyFilesAreRefused() throws IOException {
        write("empty.csv", "");
        write("header.csv", "a,b\n");
        write("twice.csv", "a,a\n1,2\n");
        assertThrows(DataException.class, () -> manifest("empty.csv", null, null, "fail"));
        assertTrue(assertThrows(DataException.class, () -> manifest("header.csv", null, null, "fail"))
                .getMessage().contains("no records"));
        assertTrue(assertThrows(DataException.class, () -> manifest("twice.csv", null, null, "fail"))
                .getMessage().contains("twice.csv:1: the header names 'a' twice"));
    }

    @Test
    void refusesBadParametersByKey() {
        assertEquals("path", assertThrows(InvalidParamException.class,
                () -> new ManifestSource.Params(" ", "auto", null, null, "fail")).key());
        assertEquals("format", assertThrows(InvalidParamException.class,
                () -> new ManifestSource.Params("a.csv", "parquet", null, null, "fail")).key());
        assertEquals("on_error", assertThrows(InvalidParamException.class,
                () -> new ManifestSource.Params("a.csv", "auto", null, null, "ignore")).key());
        assertEquals("group_field", assertThrows(InvalidParamException.class,
                () -> new ManifestSource.Params("a.csv", "auto", null, "", "fail")).key());
    }
}
