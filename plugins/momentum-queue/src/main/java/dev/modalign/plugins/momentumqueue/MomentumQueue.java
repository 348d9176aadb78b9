package dev.modalign.plugins.momentumqueue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * MoCo's dictionary as a queue ("Momentum Contrast for Unsupervised Visual Representation Learning", He et
 * al., CVPR 2020, Section 3.2): a FIFO ring of the last {@code capacity} keys, [D] float32 rows, detached
 * from any graph. "The current mini-batch is enqueued to the dictionary, and the oldest mini-batch in the
 * queue is removed": {@link #enqueue} after each step, {@link #keys} as negatives for the next.
 *
 * <p>The rows are kept on the Java heap, not in an NDManager: the queue outlives every step's manager, its
 * copy into a step ({@link #keys}) is a few hundred kilobytes, and {@link #save}/{@link #load} write it
 * exactly, so a resumed run goes on with the same negatives. Not thread-safe; a loss calls it on the
 * training thread.
 */
public final class MomentumQueue {

    private final int capacity;
    private final int dim;
    /** capacity x dim values, row r at r * dim. */
    private final float[] rows;
    /** The row the next key goes to. */
    private int head;
    private int size;

    public MomentumQueue(int capacity, int dim) {
        if (capacity < 1 || dim < 1) {
            throw new IllegalArgumentException("a queue needs capacity >= 1 and dim >= 1, found " + capacity + " x " + dim);
        }
        this.capacity = capacity;
        this.dim = dim;
        this.rows = new float[Math.multiplyExact(capacity, dim)];
    }

    public int capacity() {
        return capacity;
    }

    public int dim() {
        return dim;
    }

    /** The number of keys held, at most the capacity. */
    public int size() {
        return size;
    }

    /**
     * Appends the rows of {@code keys} [B, D] in order, dropping the oldest beyond the capacity (of a batch
     * larger than the queue, its last {@code capacity} rows stay). The values are copied: no gradient, and
     * the array may be closed afterwards.
     */
    public void enqueue(NDArray keys) {
        Shape shape = keys.getShape();
        if (shape.dimension() != 2 || shape.get(1) != dim) {
            throw new IllegalArgumentException("the queue holds keys of " + dim + " values, found shape " + shape);
        }
        enqueue(keys.stopGradient().toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
    }

    /** Appends keys given as a row-major [n, dim] array. */
    public void enqueue(float[] values) {
        if (values.length % dim != 0) {
            throw new IllegalArgumentException(values.length + " values are not whole keys of " + dim);
        }
        int count = values.length / dim;
        int from = Math.max(0, count - capacity);
        for (int r = from; r < count; r++) {
            System.arraycopy(values, r * dim, rows, head * dim, dim);
            head = (head + 1) % capacity;
        }
        size = Math.min(capacity, size + count - from);
    }

    /** The keys held, oldest first, row-major [size, dim]. */
    public float[] toFloatArray() {
        float[] ordered = new float[size * dim];
        int oldest = (head - size + capacity) % capacity;
        for (int i = 0; i < size; i++) {
            System.arraycopy(rows, ((oldest + i) % capacity) * dim, ordered, i * dim, dim);
        }
        return ordered;
    }

    /** The keys held, oldest first, as a float32 [size, dim] array of {@code manager} (size may be 0). */
    public NDArray keys(NDManager manager) {
        return manager.create(toFloatArray(), new Shape(size, dim));
    }

    /** Writes capacity, dim and the keys, oldest first. */
    public void save(DataOutputStream out) throws IOException {
        out.writeInt(capacity);
        out.writeInt(dim);
        out.writeInt(size);
        for (float value : toFloatArray()) {
            out.writeFloat(value);
        }
    }

    /** Reads what {@link #save} wrote, replacing the keys held; refuses a queue of another size. */
    public void load(DataInputStream in) throws IOException {
        int savedCapacity = in.readInt();
        int savedDim = in.readInt();
        if (savedCapacity != capacity || savedDim != dim) {
            throw new IOException("the saved queue holds " + savedCapacity + " keys of " + savedDim + " values, this one "
                    + capacity + " of " + dim + "; resume with the queue_size and embed_dim the run started with");
        }
        int savedSize = in.readInt();
        if (savedSize < 0 || savedSize > capacity) {
            throw new IOException("the saved queue says it holds " + savedSize + " keys, beyond its capacity " + capacity);
        }
        float[] values = new float[savedSize * dim];
        for (int i = 0; i < values.length; i++) {
            values[i] = in.readFloat();
        }
        head = 0;
        size = 0;
        enqueue(values);
    }
}
