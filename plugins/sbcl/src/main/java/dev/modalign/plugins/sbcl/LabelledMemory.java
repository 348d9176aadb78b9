package dev.modalign.plugins.sbcl;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;

/**
 * The most recent records' features and class labels: a ring buffer that stands in for the training
 * set SBCL clusters once every few epochs. Plain Java, filled after each step, so that it costs no
 * device memory and is the same for a seed.
 */
final class LabelledMemory {

    private final float[][] features;
    private final long[] labels;
    private int next;
    private int filled;

    LabelledMemory(int capacity) {
        this.features = new float[capacity][];
        this.labels = new long[capacity];
    }

    /** Adds a batch, row i of {@code rows} with {@code batchLabels[i]}, overwriting the oldest once full. */
    void add(float[][] rows, long[] batchLabels) {
        if (rows.length != batchLabels.length) {
            throw new IllegalArgumentException(rows.length + " rows but " + batchLabels.length + " labels");
        }
        for (int i = 0; i < rows.length; i++) {
            features[next] = rows[i];
            labels[next] = batchLabels[i];
            next = (next + 1) % features.length;
            filled = Math.min(filled + 1, features.length);
        }
    }

    int size() {
        return filled;
    }

    /** The features held, in slot order (the same order as {@link #labels()}). */
    float[][] features() {
        return Arrays.copyOf(features, filled);
    }

    long[] labels() {
        return Arrays.copyOf(labels, filled);
    }

    /** Writes the memory, slot by slot with the write position, for a checkpoint. */
    void write(DataOutputStream out) throws IOException {
        out.writeInt(features.length);
        out.writeInt(next);
        out.writeInt(filled);
        for (int i = 0; i < filled; i++) {
            out.writeLong(labels[i]);
            writeRow(out, features[i]);
        }
    }

    /** Reads back what {@link #write} wrote into this (empty) memory of the same capacity. */
    void read(DataInputStream in) throws IOException {
        int capacity = in.readInt();
        if (capacity != features.length) {
            throw new IOException("the saved memory holds " + capacity + " records, this one " + features.length
                    + "; memory_size changed since the checkpoint");
        }
        next = in.readInt();
        filled = in.readInt();
        for (int i = 0; i < filled; i++) {
            labels[i] = in.readLong();
            features[i] = readRow(in);
        }
    }

    static void writeRow(DataOutputStream out, float[] row) throws IOException {
        out.writeInt(row.length);
        for (float value : row) {
            out.writeFloat(value);
        }
    }

    static float[] readRow(DataInputStream in) throws IOException {
        float[] row = new float[in.readInt()];
        for (int j = 0; j < row.length; j++) {
            row[j] = in.readFloat();
        }
        return row;
    }
}
