package dev.modalign.plugins.datasets;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.Doc;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Modality;
import dev.modalign.api.VectorSpec;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.List;

/**
 * Fixed-length feature vectors (precomputed features, the {@code random} source's vectors), collated
 * as float32 [B, size] for the {@code mlp} encoder. A field may be a {@code float[]}, a {@code
 * double[]}, or text holding the numbers separated by commas or spaces, with or without brackets (a
 * JSON array in a manifest cell).
 *
 * <p>A {@code float[]} is passed through as it is, never written to: sources may share their arrays
 * between reads. Collation writes the batch straight into the engine's array, so a batch costs one
 * copy of its values.
 */
public final class VectorModality implements Modality<float[]> {

    /** @param size the length of every vector */
    public record Params(@Doc("Length of every vector") int size) {
        public Params {
            if (size < 1) {
                throw new InvalidParamException("size", "needs the vectors' length, >= 1, found " + size
                        + "; e.g. {type: vector, size: 768}");
            }
        }
    }

    private final int size;

    public VectorModality(Params params, ComponentContext context) {
        this.size = params.size();
    }

    @Override
    public Class<float[]> exampleType() {
        return float[].class;
    }

    @Override
    public InputSpec spec() {
        return new VectorSpec(size);
    }

    @Override
    public float[] decode(Object raw, String origin) {
        float[] vector;
        if (raw instanceof float[] floats) {
            vector = floats;
        } else if (raw instanceof double[] doubles) {
            vector = new float[doubles.length];
            for (int i = 0; i < doubles.length; i++) {
                vector[i] = (float) doubles[i];
            }
        } else if (raw instanceof String text) {
            vector = parse(text, origin);
        } else {
            throw new DataException(origin + ": a vector must be a float[], double[] or text of numbers, found "
                    + (raw == null ? "nothing" : raw.getClass().getSimpleName()));
        }
        if (vector.length != size) {
            throw new DataException(origin + ": a vector of " + vector.length + " values, but the modality's size is "
                    + size + "; set size: " + vector.length + " or fix the record");
        }
        return vector;
    }

    private static float[] parse(String text, String origin) {
        String body = text.strip();
        if (body.startsWith("[") && body.endsWith("]")) {
            body = body.substring(1, body.length() - 1);
        }
        String[] parts = body.isBlank() ? new String[0] : body.strip().split("[,\\s]+");
        float[] vector = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                vector[i] = Float.parseFloat(parts[i]);
            } catch (NumberFormatException e) {
                throw new DataException(origin + ": value " + i + " of the vector is not a number: '" + parts[i] + "'");
            }
        }
        return vector;
    }

    @Override
    public NDList collate(List<float[]> examples, NDManager manager) {
        if (manager.getDevice().equals(Device.cpu())) {
            // An uninitialised engine array written through its own memory: one copy, no zero fill.
            NDArray batch = manager.create(new Shape(examples.size(), size), DataType.FLOAT32);
            ByteBuffer memory = batch.toByteBuffer(true);
            if (memory.isDirect() && memory.capacity() == (long) examples.size() * size * Float.BYTES) {
                FloatBuffer floats = memory.asFloatBuffer();
                for (float[] example : examples) {
                    floats.put(example);
                }
                return new NDList(batch);
            }
            batch.close();
        }
        // Arrays not addressable from Java (on a GPU): build the values, then copy them over.
        float[] values = new float[examples.size() * size];
        for (int i = 0; i < examples.size(); i++) {
            System.arraycopy(examples.get(i), 0, values, i * size, size);
        }
        return new NDList(manager.create(values, new Shape(examples.size(), size)));
    }
}
