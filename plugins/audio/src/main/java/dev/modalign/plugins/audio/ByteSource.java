package dev.modalign.plugins.audio;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Random access to the bytes of an encoded recording, so that a long file is read only as far as
 * the samples that are kept: a file through positional reads of its channel, or bytes in memory.
 */
interface ByteSource {

    long size();

    /**
     * Reads up to {@code length} bytes at {@code position}; fewer only at the end of the source.
     *
     * @throws UncheckedIOException when a file cannot be read
     */
    byte[] read(long position, int length);

    static ByteSource of(byte[] bytes) {
        return new ByteSource() {
            @Override
            public long size() {
                return bytes.length;
            }

            @Override
            public byte[] read(long position, int length) {
                int from = (int) Math.min(position, bytes.length);
                return java.util.Arrays.copyOfRange(bytes, from, (int) Math.min(bytes.length, from + (long) length));
            }
        };
    }

    /** A source over an open channel, which the caller closes. */
    static ByteSource of(FileChannel channel) throws IOException {
        long size = channel.size();
        return new ByteSource() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public byte[] read(long position, int length) {
                int count = (int) Math.max(0, Math.min(length, size - position));
                ByteBuffer buffer = ByteBuffer.allocate(count);
                try {
                    while (buffer.hasRemaining()) {
                        int read = channel.read(buffer, position + buffer.position());
                        if (read < 0) {
                            break;
                        }
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return buffer.position() == count ? buffer.array()
                        : java.util.Arrays.copyOf(buffer.array(), buffer.position());
            }
        };
    }
}
