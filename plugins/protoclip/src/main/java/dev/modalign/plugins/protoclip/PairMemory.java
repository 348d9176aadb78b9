package dev.modalign.plugins.protoclip;

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
}
