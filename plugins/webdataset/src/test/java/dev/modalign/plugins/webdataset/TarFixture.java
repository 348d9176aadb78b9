package dev.modalign.plugins.webdataset;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Writes tar files for tests, from the format's definition (POSIX.1-2001 ustar and pax, GNU tar's
 * long names) and independently of the reader under test: 512-byte headers with octal fields and
 * their checksum, content padded to 512 bytes, two zero blocks at the end.
 */
final class TarFixture {

    /** How a name longer than the 100 bytes of the name field is written. */
    enum Format {
        /** Split at a '/' into the 155-byte prefix field and the name field. */
        USTAR,
        /** A type 'L' member holding the name, before the member's own header (GNU tar's default). */
        GNU,
        /** A type 'x' member with a "path" record (Python tarfile's default). */
        PAX
    }

    private static final int BLOCK = 512;

    private final Format format;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final List<Long> entries = new ArrayList<>();

    TarFixture(Format format) {
        this.format = format;
    }

    static TarFixture ustar() {
        return new TarFixture(Format.USTAR);
    }

    TarFixture file(String name, String content) {
        return file(name, content.getBytes(StandardCharsets.UTF_8));
    }

    TarFixture file(String name, byte[] content) {
        entry(name, '0', content);
        return this;
    }

    TarFixture directory(String name) {
        entry(name.endsWith("/") ? name : name + "/", '5', new byte[0]);
        return this;
    }

    /** The byte offset of the first header of the entry-th file or directory added (its long-name header, if any). */
    long offsetOf(int entry) {
        return entries.get(entry);
    }

    /** The archive with its end marker. */
    byte[] bytes() {
        byte[] body = out.toByteArray();
        return Arrays.copyOf(body, body.length + 2 * BLOCK);
    }

    Path writeTo(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        return Files.write(file, bytes());
    }

    private void entry(String name, char type, byte[] content) {
        entries.add((long) out.size());
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        String prefix = "";
        String shortName = name;
        if (nameBytes.length > 100) {
            switch (format) {
                case USTAR -> {
                    int slash = name.lastIndexOf('/');
                    while (slash > 0 && name.substring(slash + 1).getBytes(StandardCharsets.UTF_8).length <= 100
                            && name.substring(0, slash).getBytes(StandardCharsets.UTF_8).length > 155) {
                        slash = name.lastIndexOf('/', slash - 1);
                    }
                    if (slash <= 0 || name.substring(slash + 1).getBytes(StandardCharsets.UTF_8).length > 100) {
                        throw new IllegalArgumentException("ustar cannot hold the name " + name);
                    }
                    prefix = name.substring(0, slash);
                    shortName = name.substring(slash + 1);
                }
                case GNU -> {
                    byte[] longName = Arrays.copyOf(nameBytes, nameBytes.length + 1);
                    header("././@LongLink", "", 'L', longName.length);
                    content(longName);
                    shortName = truncated(name);
                }
                case PAX -> {
                    byte[] records = paxRecord("path", name);
                    String shortened = truncated(name);
                    header("PaxHeaders.0/" + shortened.substring(0, Math.min(80, shortened.length())), "", 'x',
                            records.length);
                    content(records);
                    shortName = truncated(name);
                }
                default -> throw new IllegalStateException();
            }
        }
        header(shortName, prefix, type, content.length);
        content(content);
    }

    private static String truncated(String name) {
        return new String(Arrays.copyOf(name.getBytes(StandardCharsets.UTF_8), 100), StandardCharsets.UTF_8)
                .replace("\0", "").replace("\uFFFD", "");
    }

    /** "LENGTH key=value\n", where LENGTH counts the record's bytes, its own digits included. */
    private static byte[] paxRecord(String key, String value) {
        int body = (" " + key + "=" + value + "\n").getBytes(StandardCharsets.UTF_8).length;
        int length = body + 1;
        while (String.valueOf(length).length() + body != length) {
            length++;
        }
        return (length + " " + key + "=" + value + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private void header(String name, String prefix, char type, long size) {
        byte[] header = new byte[BLOCK];
        put(header, 0, 100, name.getBytes(StandardCharsets.UTF_8));
        octal(header, 100, 8, 0644);
        octal(header, 108, 8, 0);
        octal(header, 116, 8, 0);
        octal(header, 124, 12, size);
        octal(header, 136, 12, 1_700_000_000L);
        header[156] = (byte) type;
        if (format == Format.GNU) {
            put(header, 257, 8, "ustar  \0".getBytes(StandardCharsets.US_ASCII));
        } else {
            put(header, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
            put(header, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
        }
        put(header, 345, 155, prefix.getBytes(StandardCharsets.UTF_8));
        Arrays.fill(header, 148, 156, (byte) ' ');
        int sum = 0;
        for (byte b : header) {
            sum += b & 0xff;
        }
        put(header, 148, 8, String.format(Locale.ROOT, "%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(header);
    }

    private void content(byte[] content) {
        out.writeBytes(content);
        int padding = (BLOCK - content.length % BLOCK) % BLOCK;
        out.writeBytes(new byte[padding]);
    }

    private static void octal(byte[] header, int offset, int length, long value) {
        String digits = String.format(Locale.ROOT, "%0" + (length - 1) + "o", value);
        put(header, offset, length, (digits + "\0").getBytes(StandardCharsets.US_ASCII));
    }

    private static void put(byte[] header, int offset, int length, byte[] bytes) {
        if (bytes.length > length) {
            throw new IllegalArgumentException("a field of " + length + " bytes cannot hold " + bytes.length);
        }
        System.arraycopy(bytes, 0, header, offset, bytes.length);
    }
}
