package dev.modalign.plugins.onnx;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * Embeddings of token sequences kept on disk across runs: an append-only file of records
 * {@code [n][n ids][d][d floats]}. Appends take an exclusive file lock, so parallel sweep trials
 * sharing one cache never interleave; a record cut short by a crash ends the reading, and what
 * follows is written again by the next run that needs it.
 */
final class EmbeddingFile {

    private EmbeddingFile() {}

    /** Reads every whole record whose width is {@code dim}, at most {@code limit}; a missing file reads nothing. */
    static void read(Path file, int dim, int limit, BiConsumer<int[], float[]> sink) {
        if (!Files.isRegularFile(file)) {
            return;
        }
        int read = 0;
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            while (read < limit) {
                int n = in.readInt();
                if (n < 0 || n > 1 << 16) {
                    return;
                }
                int[] ids = new int[n];
                for (int i = 0; i < n; i++) {
                    ids[i] = in.readInt();
                }
                int width = in.readInt();
                if (width != dim) {
                    return;
                }
                float[] embedding = new float[width];
                for (int i = 0; i < width; i++) {
                    embedding[i] = in.readFloat();
                }
                sink.accept(ids, embedding);
                read++;
            }
        } catch (EOFException cutShort) {
            // The last record was cut short: everything before it is whole.
        } catch (IOException e) {
            System.err.println("warning: cannot read the embedding cache " + file + " (" + e.getMessage()
                    + "); embeddings are computed again");
        }
    }

    /** Appends records under an exclusive lock; a failure to write only costs the reuse, so it is a warning. */
    static void append(Path file, List<int[]> ids, List<float[]> embeddings) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            for (int r = 0; r < ids.size(); r++) {
                out.writeInt(ids.get(r).length);
                for (int id : ids.get(r)) {
                    out.writeInt(id);
                }
                out.writeInt(embeddings.get(r).length);
                for (float value : embeddings.get(r)) {
                    out.writeFloat(value);
                }
            }
            Files.createDirectories(file.getParent());
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND); FileLock lock = channel.lock()) {
                ByteBuffer buffer = ByteBuffer.wrap(bytes.toByteArray());
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            }
        } catch (IOException e) {
            System.err.println("warning: cannot add to the embedding cache " + file + " (" + e.getMessage() + ")");
        }
    }
}
