package dev.modalign.plugins.webdataset;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Reads the member headers of an uncompressed tar file, seeking over the contents, so that a shard
 * is indexed without being unpacked or read in full. Understands what WebDataset writers produce:
 * POSIX ustar (names split into prefix and name), pax extended headers (Python's tarfile default:
 * {@code path} and {@code size} records) and GNU long names (type L, GNU tar's default).
 *
 * <p>Layout (POSIX.1-2001, "pax" and "ustar Interchange Format"): a sequence of 512-byte headers,
 * each followed by its content padded to a multiple of 512 bytes, ended by a zero block. Numbers
 * are octal text, or for GNU's large values base-256 with the high bit of the first byte set.
 */
final class TarScanner {

    static final int BLOCK = 512;

    /** Extended headers hold a name or a few records; anything larger is corruption, not a name. */
    private static final long MAX_EXTENDED_HEADER = 1 << 20;

    /**
     * A regular file in the archive.
     *
     * @param name its full name (long names resolved)
     * @param headerOffset the byte offset of its header (of the first extended header, where it has one)
     * @param dataOffset the byte offset of its content
     * @param size its content's size in bytes
     */
    record Member(String name, long headerOffset, long dataOffset, long size) {}

    /** The archive cannot be read on from {@link #offset()}: a damaged header or a truncated file. */
    static final class CorruptTarException extends IOException {
        private final long offset;

        CorruptTarException(long offset, String message) {
            super(message);
            this.offset = offset;
        }

        /** The byte offset of the header where reading stopped. */
        long offset() {
            return offset;
        }
    }

    private TarScanner() {}

    /**
     * Hands every regular file to {@code members}, in archive order.
     *
     * @return the number of entries that are not regular files (directories, links, ...), skipped as
     *     WebDataset skips them
     * @throws CorruptTarException where a header is damaged or the file ends early, with its offset
     */
    static int scan(FileChannel channel, Consumer<Member> members) throws IOException {
        long fileSize = channel.size();
        ByteBuffer buffer = ByteBuffer.allocate(BLOCK);
        byte[] header = buffer.array();
        long position = 0;
        String extendedName = null;
        long extendedSize = -1;
        long extendedFrom = -1;
        int others = 0;
        while (true) {
            if (position == fileSize) {
                throw new CorruptTarException(position, "ends at byte " + fileSize + " without the end-of-archive"
                        + " marker (a zero block): the file is truncated, or its writer was not closed");
            }
            if (fileSize - position < BLOCK) {
                throw new CorruptTarException(position, "is truncated: " + (fileSize - position) + " bytes left at byte "
                        + position + " where a " + BLOCK + "-byte header should be");
            }
            buffer.clear();
            readFully(channel, buffer, position);
            if (isZero(header)) {
                if (extendedFrom >= 0) {
                    throw new CorruptTarException(extendedFrom, "has an extended header at byte " + extendedFrom
                            + " with no member after it");
                }
                return others;
            }
            checkChecksum(header, position);
            char type = (char) (header[156] & 0xff);
            long size = extendedSize >= 0 && isFile(type) ? extendedSize : number(header, 124, 12, position, "size");
            long data = position + BLOCK;
            String name = extendedName != null && isFile(type) ? extendedName : headerName(header);
            if (size > fileSize - data) {
                long at = extendedFrom >= 0 ? extendedFrom : position;
                throw new CorruptTarException(at, "is truncated: member '" + name + "' (header at byte " + at
                        + ") needs " + size + " bytes from byte " + data + " but the file ends at byte " + fileSize);
            }
            switch (type) {
                case 'L' -> {
                    extendedName = text(extendedContent(channel, data, size, position), position, "GNU long name");
                    extendedFrom = extendedFrom >= 0 ? extendedFrom : position;
                }
                case 'x' -> {
                    byte[] records = extendedContent(channel, data, size, position);
                    for (String[] record : paxRecords(records, position)) {
                        if (record[0].equals("path")) {
                            extendedName = record[1];
                        } else if (record[0].equals("size")) {
                            extendedSize = paxSize(record[1], position);
                        }
                    }
                    extendedFrom = extendedFrom >= 0 ? extendedFrom : position;
                }
                case 'g', 'K' -> {
                    // A global pax header applies to no member's name; a GNU long link name to a link.
                }
                default -> {
                    if (isFile(type)) {
                        members.accept(new Member(name, extendedFrom >= 0 ? extendedFrom : position, data, size));
                    } else {
                        others++;
                    }
                    extendedName = null;
                    extendedSize = -1;
                    extendedFrom = -1;
                }
            }
            long next = data + (size + BLOCK - 1) / BLOCK * BLOCK;
            if (next > fileSize) {
                throw new CorruptTarException(position, "is truncated inside the padding after member '" + name
                        + "' (header at byte " + position + ")");
            }
            position = next;
        }
    }

    /** Regular files: '0', NUL (old tars) and '7' (contiguous file, read as a regular one). */
    private static boolean isFile(char type) {
        return type == '0' || type == '\0' || type == '7';
    }

    private static String headerName(byte[] header) {
        String name = cString(header, 0, 100);
        boolean ustar = header[257] == 'u' && header[258] == 's' && header[259] == 't' && header[260] == 'a'
                && header[261] == 'r' && header[262] == 0;
        if (ustar) {
            String prefix = cString(header, 345, 155);
            if (!prefix.isEmpty()) {
                return prefix + "/" + name;
            }
        }
        return name;
    }

    /** The header's checksum: the sum of its bytes with the checksum field read as spaces (unsigned, or signed as some old tars wrote). */
    private static void checkChecksum(byte[] header, long position) throws CorruptTarException {
        long stored = number(header, 148, 8, position, "checksum");
        long unsigned = 0;
        long signed = 0;
        for (int i = 0; i < BLOCK; i++) {
            int b = i >= 148 && i < 156 ? ' ' : header[i];
            unsigned += b & 0xff;
            signed += (byte) b;
        }
        if (stored != unsigned && stored != signed) {
            throw new CorruptTarException(position, "has a damaged header at byte " + position + ": its checksum is "
                    + stored + " but its bytes sum to " + unsigned + " (not a tar file, or corrupt)");
        }
    }

    /** An octal number field (NUL- or space-terminated, leading spaces allowed), or GNU base-256. */
    private static long number(byte[] header, int offset, int length, long position, String field)
            throws CorruptTarException {
        if ((header[offset] & 0x80) != 0) {
            if (header[offset] != (byte) 0x80) {
                throw new CorruptTarException(position, "has a damaged header at byte " + position + ": a negative "
                        + field);
            }
            long value = 0;
            for (int i = offset + 1; i < offset + length; i++) {
                if ((value >>> 55) != 0) {
                    throw new CorruptTarException(position, "has a damaged header at byte " + position + ": its "
                            + field + " is too large");
                }
                value = (value << 8) | (header[i] & 0xff);
            }
            return value;
        }
        int i = offset;
        int end = offset + length;
        while (i < end && header[i] == ' ') {
            i++;
        }
        long value = 0;
        int digits = 0;
        for (; i < end && header[i] != 0 && header[i] != ' '; i++) {
            int digit = header[i] - '0';
            if (digit < 0 || digit > 7 || digits == 21) {
                throw new CorruptTarException(position, "has a damaged header at byte " + position + ": its " + field
                        + " field is not an octal number ('" + cString(header, offset, length).strip() + "')");
            }
            value = value * 8 + digit;
            digits++;
        }
        return value;
    }

    private static byte[] extendedContent(FileChannel channel, long data, long size, long position) throws IOException {
        if (size > MAX_EXTENDED_HEADER) {
            throw new CorruptTarException(position, "has an extended header of " + size + " bytes at byte " + position
                    + ", too large for a name: corrupt");
        }
        ByteBuffer content = ByteBuffer.allocate((int) size);
        readFully(channel, content, data);
        return content.array();
    }

    /** Pax records: "LENGTH KEY=VALUE\n", LENGTH counting the whole record in bytes. */
    private static List<String[]> paxRecords(byte[] content, long position) throws CorruptTarException {
        List<String[]> records = new ArrayList<>();
        int at = 0;
        while (at < content.length && content[at] != 0) {
            int space = at;
            long length = 0;
            while (space < content.length && content[space] >= '0' && content[space] <= '9' && length < content.length) {
                length = length * 10 + (content[space] - '0');
                space++;
            }
            if (space == at || space >= content.length || content[space] != ' ' || length <= space - at + 1
                    || at + length > content.length || content[(int) (at + length - 1)] != '\n') {
                throw new CorruptTarException(position, "has a damaged pax header at byte " + position
                        + ": a record at its byte " + at + " is not 'LENGTH KEY=VALUE\\n'");
            }
            String record = new String(content, space + 1, (int) (at + length - space - 2), StandardCharsets.UTF_8);
            int equals = record.indexOf('=');
            if (equals <= 0) {
                throw new CorruptTarException(position, "has a damaged pax header at byte " + position
                        + ": the record '" + record + "' has no KEY=");
            }
            records.add(new String[] {record.substring(0, equals), record.substring(equals + 1)});
            at += (int) length;
        }
        return records;
    }

    private static long paxSize(String value, long position) throws CorruptTarException {
        try {
            long size = Long.parseLong(value);
            if (size >= 0) {
                return size;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new CorruptTarException(position, "has a damaged pax header at byte " + position + ": size '" + value + "'");
    }

    private static String text(byte[] content, long position, String what) throws CorruptTarException {
        int end = 0;
        while (end < content.length && content[end] != 0) {
            end++;
        }
        if (end == 0) {
            throw new CorruptTarException(position, "has an empty " + what + " at byte " + position);
        }
        return new String(content, 0, end, StandardCharsets.UTF_8);
    }

    private static String cString(byte[] bytes, int offset, int length) {
        int end = offset;
        while (end < offset + length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, offset, end - offset, StandardCharsets.UTF_8);
    }

    private static boolean isZero(byte[] block) {
        for (byte b : block) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    /** Fills {@code buffer} from {@code position} with positional reads, which are safe from any thread. */
    static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, at);
            if (read < 0) {
                throw new EOFException("the file ends at byte " + at);
            }
            at += read;
        }
    }
}
