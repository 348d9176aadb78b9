package dev.modalign.plugins.webdataset;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
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
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WebDatasetSourceTest extends PluginContract {

    @TempDir
    Path experimentDir;

    @Override
    protected ComponentFactory<?, ?> factoryUnderTest() {
        return WebDatasetPlugin.WEBDATASET;
    }

    private WebDatasetSource source(String urls) {
        return source(urls, "fail");
    }

    private WebDatasetSource source(String urls, String onError) {
        return (WebDatasetSource) WebDatasetPlugin.WEBDATASET.create(
                new WebDatasetSource.Params(urls, onError),
                TestContext.builder().optBaseDir(experimentDir).build());
    }

    /** Sample n's image: random bytes of a length that crosses block boundaries (0, 1, 511, 512, 513, ...). */
    private static byte[] image(int n) {
        int[] lengths = {0, 1, 511, 512, 513, 1024, 3000};
        byte[] bytes = new byte[lengths[n % lengths.length] + n];
        new Random(n).nextBytes(bytes);
        return bytes;
    }

    private static String key(int n) {
        return String.format("%06d", n);
    }

    /** Writes shards of consecutive samples with png, txt, json and cls members. */
    private List<TarFixture> writeShards(String pattern, int shards, int perShard) throws IOException {
        List<TarFixture> written = new ArrayList<>();
        for (int shard = 0; shard < shards; shard++) {
            TarFixture tar = TarFixture.ustar();
            for (int n = shard * perShard; n < (shard + 1) * perShard; n++) {
                tar.file(key(n) + ".png", image(n))
                        .file(key(n) + ".txt", "caption " + n + ", café")
                        .file(key(n) + ".json", "{\"n\": " + n + "}")
                        .file(key(n) + ".cls", " " + (n % 3) + "\n");
            }
            tar.writeTo(experimentDir.resolve(String.format(pattern, shard)));
            written.add(tar);
        }
        return written;
    }

    @Test
    void readsEveryRecordBackAsWritten() throws IOException {
        writeShards("shards/train-%06d.tar", 3, 7);
        WebDatasetSource source = source("shards/train-{000000..000002}.tar");
        assertEquals(21, source.size());
        for (int n = 0; n < 21; n++) {
            DataRecord record = source.get(n);
            assertEquals(key(n), record.id());
            assertEquals(key(n), record.group());
            assertEquals("shards/train-" + key(n / 7) + ".tar:" + key(n), record.origin());
            assertEquals(List.of("png", "txt", "json", "cls"), List.copyOf(record.fields().keySet()));
            assertArrayEquals(image(n), (byte[]) record.field("png"), "sample " + n);
            assertEquals("caption " + n + ", café", record.field("txt"));
            assertEquals("{\"n\": " + n + "}", record.field("json"));
            assertEquals((long) (n % 3), record.field("cls"));
        }
        assertEquals(0, source.skippedSamples());
        assertEquals(0, source.ignoredMembers());
        assertThrows(IndexOutOfBoundsException.class, () -> source.get(21));
        source.close();
    }

    @Test
    void readsShardsWrittenByPythonTarfileAndGnuTar() throws IOException {
        // Written by Python 3.11's tarfile (pax format: pax path records for the long and the non-ASCII
        // names) and by GNU tar 1.34 --format=gnu (type L long names),
        // each with a directory entry first; see the script in this class's comment below.
        for (String fixture : List.of("python-pax.tar", "gnu-tar.tar")) {
            try (InputStream in = getClass().getResourceAsStream("/" + fixture)) {
                Files.write(experimentDir.resolve(fixture), in.readAllBytes());
            }
            WebDatasetSource source = source(fixture);
            List<String> keys = List.of("000000", "000001", "deep/" + "d".repeat(120) + "/000002", "café/000003",
                    "k".repeat(105));
            assertEquals(keys.size(), source.size(), fixture);
            for (int label = 0; label < keys.size(); label++) {
                String key = keys.get(label);
                DataRecord record = source.get(label);
                assertEquals(key, record.id(), fixture);
                assertArrayEquals(("image bytes of " + key).repeat(40).getBytes(StandardCharsets.UTF_8),
                        (byte[]) record.field("png"), fixture + " " + key);
                assertEquals("a caption for " + key, record.field("txt"), fixture);
                assertEquals((long) label, record.field("cls"), fixture);
            }
            assertEquals(1, source.ignoredMembers(), fixture + ": the directory entry");
        }
        // The fixtures were made with:
        //   samples = [("000000", 0), ("000001", 1), ("deep/" + "d" * 120 + "/000002", 2), ("caf\u00e9/000003", 3),
        //              ("k" * 105, 4)]
        //   members: png = ("image bytes of " + key) * 40, txt = "a caption for " + key, cls = str(label);
        //   tarfile.open("python-pax.tar", "w"), a DIRTYPE "deep" first, then addfile per member; and
        //   tar --format=gnu --no-recursion --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -cf gnu-tar.tar
        //   -T list, listing "deep" and then the members in the same order.
    }

    @Test
    void longNamesInEveryFormatAndKeysBeforeTheFirstDot() throws IOException {
        String directory = "set.v2/" + "x".repeat(120) + "/";
        for (TarFixture.Format format : TarFixture.Format.values()) {
            TarFixture tar = new TarFixture(format)
                    .directory("set.v2")
                    .file(directory + "s1.seg.png", new byte[] {1, 2, 3})
                    .file(directory + "s1.TXT", "one")
                    .file("y".repeat(30) + "/S2.JPG", new byte[] {4})
                    .file("__meta__", "not a sample")
                    .file("README", "no extension: no field");
            if (format != TarFixture.Format.USTAR) {
                tar.file("z".repeat(140) + ".txt", "a long base name");
            }
            Path file = tar.writeTo(experimentDir.resolve(format + ".tar"));
            WebDatasetSource source = source(file.getFileName().toString());
            assertEquals(format == TarFixture.Format.USTAR ? 2 : 3, source.size(), format.toString());
            DataRecord first = source.get(0);
            assertEquals(directory + "s1", first.id(), format.toString());
            assertEquals(List.of("seg.png", "txt"), List.copyOf(first.fields().keySet()));
            assertArrayEquals(new byte[] {1, 2, 3}, (byte[]) first.field("seg.png"));
            assertEquals("one", first.field("txt"));
            assertEquals("y".repeat(30) + "/S2", source.get(1).id());
            assertArrayEquals(new byte[] {4}, (byte[]) source.get(1).field("jpg"));
            if (format != TarFixture.Format.USTAR) {
                assertEquals("z".repeat(140), source.get(2).id());
                assertEquals("a long base name", source.get(2).field("txt"));
            }
            assertEquals(3, source.ignoredMembers(), format + ": the directory, __meta__ and README");
        }
    }

    @Test
    void aDamagedHeaderIsReportedWithShardAndOffset() throws IOException {
        TarFixture tar = TarFixture.ustar();
        for (int n = 0; n < 3; n++) {
            tar.file(key(n) + ".png", image(n + 3)).file(key(n) + ".txt", "t" + n);
        }
        byte[] bytes = tar.bytes();
        long damaged = tar.offsetOf(3);
        bytes[(int) damaged + 5] ^= 0x20;
        Path shard = Files.write(experimentDir.resolve("a.tar"), bytes);
        writeGoodShard("b.tar", 10, 2);

        DataException failure = assertThrows(DataException.class, () -> source("{a,b}.tar"));
        assertTrue(failure.getMessage().contains(shard.toString()), failure.getMessage());
        assertTrue(failure.getMessage().contains("byte " + damaged), failure.getMessage());
        assertTrue(failure.getMessage().contains("checksum"), failure.getMessage());
        assertTrue(failure.getMessage().contains("on_error: skip"), failure.getMessage());

        // Skipping keeps the samples before the damage (000000), drops the one being read (000001), and reads on.
        WebDatasetSource skipping = source("{a,b}.tar", "skip");
        assertEquals(List.of(key(0), key(10), key(11)), ids(skipping));
        assertEquals(1, skipping.skippedSamples());
        assertArrayEquals(image(3), (byte[]) skipping.get(0).field("png"));
    }

    @Test
    void aTruncatedShardIsReportedWithShardAndOffset() throws IOException {
        TarFixture tar = TarFixture.ustar();
        for (int n = 0; n < 3; n++) {
            tar.file(key(n) + ".png", image(6)).file(key(n) + ".txt", "t" + n);
        }
        byte[] bytes = tar.bytes();
        long cutMember = tar.offsetOf(2);
        Path shard = Files.write(experimentDir.resolve("cut.tar"), Arrays.copyOf(bytes, (int) cutMember + 512 + 100));
        DataException inContent = assertThrows(DataException.class, () -> source("cut.tar"));
        assertTrue(inContent.getMessage().contains(shard + " is truncated"), inContent.getMessage());
        assertTrue(inContent.getMessage().contains("header at byte " + cutMember), inContent.getMessage());

        long boundary = tar.offsetOf(4);
        Files.write(shard, Arrays.copyOf(bytes, (int) boundary));
        DataException atBoundary = assertThrows(DataException.class, () -> source("cut.tar"));
        assertTrue(atBoundary.getMessage().contains("ends at byte " + boundary + " without the end-of-archive marker"),
                atBoundary.getMessage());
        WebDatasetSource skipping = source("cut.tar", "skip");
        assertEquals(List.of(key(0)), ids(skipping), "the last sample may be incomplete, so it is dropped");
        assertEquals(1, skipping.skippedSamples());
    }

    @Test
    void aSampleSplitAcrossShardsIsRejected() throws IOException {
        Path first = TarFixture.ustar().file("k0.png", "a").file("k1.png", "b").writeTo(experimentDir.resolve("s/0.tar"));
        Path second = TarFixture.ustar().file("k1.txt", "c").file("k2.png", "d").writeTo(experimentDir.resolve("s/1.tar"));
        for (String onError : List.of("fail", "skip")) {
            DataException split = assertThrows(DataException.class, () -> source("s/{0..1}.tar", onError));
            String message = split.getMessage();
            assertTrue(message.contains(second.toString()) && message.contains(first.toString()), message);
            assertTrue(message.contains("'k1'") && message.contains("adjacent"), message);
        }
        TarFixture.ustar().file("k0.png", "a").file("k1.png", "b").file("k0.txt", "c").writeTo(first);
        DataException apart = assertThrows(DataException.class, () -> source("s/0.tar"));
        assertTrue(apart.getMessage().contains("'k0'") && apart.getMessage().contains("earlier in this shard"),
                apart.getMessage());
    }

    @Test
    void twoMembersOfOneExtensionFailOrAreSkipped() throws IOException {
        TarFixture tar = TarFixture.ustar().file("a.txt", "1").file("b.txt", "2").file("b.TXT", "3").file("c.txt", "4");
        tar.writeTo(experimentDir.resolve("dup.tar"));
        DataException failure = assertThrows(DataException.class, () -> source("dup.tar"));
        assertTrue(failure.getMessage().contains("'b' has two 'txt' members (the second at byte " + tar.offsetOf(2)),
                failure.getMessage());
        WebDatasetSource skipping = source("dup.tar", "skip");
        assertEquals(List.of("a", "c"), ids(skipping));
        assertEquals("4", skipping.get(1).field("txt"));
        assertEquals(1, skipping.skippedSamples());
    }

    @Test
    void fingerprintChangesWhenAShardChanges() throws IOException {
        writeShards("fp/%d.tar", 2, 3);
        String original = source("fp/{0..1}.tar").fingerprint();
        assertEquals(original, source("fp/{0..1}.tar").fingerprint(), "the same files give the same fingerprint");
        assertTrue(original.startsWith("webdataset(urls=fp/{0..1}.tar, shards=2, samples=6, sha256="), original);

        Path shard = experimentDir.resolve("fp/1.tar");
        FileTime time = Files.getLastModifiedTime(shard);
        Files.setLastModifiedTime(shard, FileTime.fromMillis(time.toMillis() + 60_000));
        String touched = source("fp/{0..1}.tar").fingerprint();
        assertNotEquals(original, touched, "a newer modification time");

        TarFixture.ustar().file(key(3) + ".txt", "other").writeTo(shard);
        Files.setLastModifiedTime(shard, time);
        String rewritten = source("fp/{0..1}.tar").fingerprint();
        assertNotEquals(original, rewritten, "another size");
        assertNotEquals(touched, rewritten);
    }

    @Test
    void aMissingShardNamesThePatternAndThePath() throws IOException {
        writeShards("m/%d.tar", 2, 1);
        InvalidParamException missing = assertThrows(InvalidParamException.class, () -> source("m/{0..2}.tar"));
        assertEquals("urls", missing.key());
        assertTrue(missing.getMessage().contains("'m/{0..2}.tar' expands to 3 shards"), missing.getMessage());
        assertTrue(missing.getMessage().contains(experimentDir.resolve("m/2.tar").toString()), missing.getMessage());
        assertEquals("urls", assertThrows(InvalidParamException.class, () -> source("m/{0,0}.tar")).key());
    }

    @Test
    void anEmptyDataSetIsAnError() throws IOException {
        TarFixture.ustar().writeTo(experimentDir.resolve("empty.tar"));
        DataException empty = assertThrows(DataException.class, () -> source("empty.tar"));
        assertTrue(empty.getMessage().contains("no samples in 1 shard"), empty.getMessage());
        TarFixture.ustar().file("NOTES", "x").writeTo(experimentDir.resolve("names.tar"));
        DataException names = assertThrows(DataException.class, () -> source("names.tar"));
        assertTrue(names.getMessage().contains("KEY.EXTENSION") && names.getMessage().contains("NOTES"),
                names.getMessage());
        Files.write(experimentDir.resolve("zero.tar"), new byte[0]);
        assertTrue(assertThrows(DataException.class, () -> source("zero.tar")).getMessage()
                .contains("without the end-of-archive marker"));
    }

    @Test
    void compressedShardsAndRemoteUrlsAreRefused() throws IOException {
        Files.write(experimentDir.resolve("c.tar.gz"), new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, 0});
        assertTrue(assertThrows(DataException.class, () -> source("c.tar.gz")).getMessage().contains("gunzip"));
        for (String remote : List.of("https" + "://example.org/{0..9}.tar", "pipe:curl x.tar", "s3://bucket/a.tar")) {
            InvalidParamException refused = assertThrows(InvalidParamException.class, () -> source(remote));
            assertEquals("urls", refused.key());
            assertTrue(refused.getMessage().contains("fetches nothing"), refused.getMessage());
        }
        assertEquals("urls", assertThrows(InvalidParamException.class, () -> source("s/{0..3.tar")).key());
        assertEquals("on_error", assertThrows(InvalidParamException.class,
                () -> source("a.tar", "ignore")).key());
    }

    @Test
    void textThatIsNotUtf8IsReportedWithItsSample() throws IOException {
        TarFixture.ustar().file("s.txt", new byte[] {'o', 'k', (byte) 0xC3}).file("s.cls", "seven")
                .writeTo(experimentDir.resolve("t.tar"));
        WebDatasetSource source = source("t.tar");
        DataException bad = assertThrows(DataException.class, () -> source.get(0));
        assertTrue(bad.getMessage().startsWith("t.tar:s: member 'txt'"), bad.getMessage());
        assertTrue(bad.getMessage().contains("not UTF-8"), bad.getMessage());
        TarFixture.ustar().file("s.cls", "seven").writeTo(experimentDir.resolve("t.tar"));
        assertEquals("seven", source("t.tar").get(0).field("cls"), "a class that is not an integer stays text");
    }

    @Test
    void idsComeFromTheIndexAndMatchTheRecords() throws IOException {
        writeShards("p/%d.tar", 3, 20);
        WebDatasetSource source = source("p/{0..2}.tar");
        for (int i = 0; i < source.size(); i++) {
            assertEquals(source.get(i).id(), source.id(i), "sample " + i);
        }
    }

    @Test
    void concurrentReadsMatchSequentialOnes() throws Exception {
        writeShards("c/%d.tar", 4, 25);
        WebDatasetSource source = source("c/{0..3}.tar");
        List<DataRecord> sequential = new ArrayList<>();
        for (int i = 0; i < source.size(); i++) {
            sequential.add(source.get(i));
        }
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                long seed = t;
                results.add(threads.submit(() -> {
                    List<Integer> order = new ArrayList<>();
                    for (int i = 0; i < source.size(); i++) {
                        order.add(i);
                    }
                    Collections.shuffle(order, new Random(seed));
                    for (int i : order) {
                        if (!sameFields(sequential.get(i).fields(), source.get(i).fields())) {
                            return false;
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> result : results) {
                assertTrue(result.get());
            }
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void aReaderInterruptedMidReadDoesNotBreakTheOthers() throws Exception {
        writeShards("i/%d.tar", 1, 4);
        WebDatasetSource source = source("i/0.tar");
        assertArrayEquals(image(0), (byte[]) source.get(0).field("png"));
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread interrupted = new Thread(() -> {
            Thread.currentThread().interrupt();
            try {
                source.get(2);
            } catch (Throwable t) {
                thrown.set(t);
            }
        });
        interrupted.start();
        interrupted.join();
        // An interrupted FileChannel read closes the channel for every thread; the source opens it again.
        assertInstanceOf(DataException.class, thrown.get());
        assertArrayEquals(image(3), (byte[]) source.get(3).field("png"));
    }

    private void writeGoodShard(String name, int first, int count) throws IOException {
        TarFixture tar = TarFixture.ustar();
        for (int n = first; n < first + count; n++) {
            tar.file(key(n) + ".png", image(n)).file(key(n) + ".txt", "t" + n);
        }
        tar.writeTo(experimentDir.resolve(name));
    }

    private static List<String> ids(WebDatasetSource source) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < source.size(); i++) {
            ids.add(source.get(i).id());
        }
        return ids;
    }

    private static boolean sameFields(Map<String, Object> expected, Map<String, Object> found) {
        if (!expected.keySet().equals(found.keySet())) {
            return false;
        }
        for (Map.Entry<String, Object> entry : expected.entrySet()) {
            Object other = found.get(entry.getKey());
            boolean same = entry.getValue() instanceof byte[] bytes
                    ? other instanceof byte[] otherBytes && Arrays.equals(bytes, otherBytes)
                    : entry.getValue().equals(other);
            if (!same) {
                return false;
            }
        }
        return true;
    }
}
