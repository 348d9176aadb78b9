package dev.modalign.plugins.protoclip;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * The most recent L2-normalised embeddings of the two towers, row i of each from the same record: a
 * ring buffer that stands in for ProtoCLIP's episode, the sample the prototypes are clustered from.
 * Plain Java, filled after each step, so that it costs no device memory and is the same for a seed.
 */
final class PairMemory {

    private final float[][] first;
    private final float[][] second;
    private int next;
    private int filled;

    PairMemory(int capacity) {
        this.first = new float[capacity][];
        this.second = new float[capacity][];
    }

    /** Adds a batch of pairs, [B][D] each, overwriting the oldest once full. */
    void add(float[][] firstRows, float[][] secondRows) {
        for (int i = 0; i < firstRows.length; i++) {
            first[next] = firstRows[i];
            second[next] = secondRows[i];
            next = (next + 1) % first.length;
            filled = Math.min(filled + 1, first.length);
        }
    }

    int size() {
        return filled;
    }

    /** The first tower's rows held, in slot order (the same order as {@link #second()}). */
    float[][] first() {
        return java.util.Arrays.copyOf(first, filled);
    }

    float[][] second() {
        return java.util.Arrays.copyOf(second, filled);
    }

    /** Writes the memory, slot by slot with the write position, for a checkpoint. */
    void write(DataOutputStream out) throws IOException {
        out.writeInt(first.length);
        out.writeInt(next);
        out.writeInt(filled);
        writeRows(out, java.util.Arrays.copyOf(first, filled));
        writeRows(out, java.util.Arrays.copyOf(second, filled));
    }

    /** Reads back what {@link #write} wrote into this (empty) memory of the same capacity. */
    void read(DataInputStream in) throws IOException {
        int capacity = in.readInt();
        if (capacity != first.length) {
            throw new IOException("the saved memory holds " + capacity + " pairs, this one " + first.length
                    + "; memory_size changed since the checkpoint");
        }
        next = in.readInt();
        filled = in.readInt();
        float[][] firstRows = readRows(in);
        float[][] secondRows = readRows(in);
        System.arraycopy(firstRows, 0, first, 0, filled);
        System.arraycopy(secondRows, 0, second, 0, filled);
    }

    /** Writes a matrix (null allowed) as a row count and each row's length and values. */
    static void writeRows(DataOutputStream out, float[][] rows) throws IOException {
        out.writeInt(rows == null ? -1 : rows.length);
        if (rows == null) {
            return;
        }
        for (float[] row : rows) {
            out.writeInt(row.length);
            for (float value : row) {
                out.writeFloat(value);
            }
        }
    }

    static float[][] readRows(DataInputStream in) throws IOException {
        int count = in.readInt();
        if (count < 0) {
            return null;
        }
        float[][] rows = new float[count][];
        for (int i = 0; i < count; i++) {
            rows[i] = new float[in.readInt()];
            for (int j = 0; j < rows[i].length; j++) {
                rows[i][j] = in.readFloat();
            }
        }
        return rows;
    }
}
