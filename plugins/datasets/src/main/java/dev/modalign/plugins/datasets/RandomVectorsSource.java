package dev.modalign.plugins.datasets;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Generated float vectors, one field per entry of {@code dims}: inputs of a given shape for
 * benchmarks and smoke tests, with no reading or decoding cost. Values are uniform with mean 0 and
 * variance 1, drawn from SplitMix64 seeded by (seed, index, field), so any record can be made on
 * any thread in any order and is always the same.
 *
 * <p>A record is generated once and kept: the loader's threads then do no arithmetic after the
 * first epoch, and a benchmark measures the training step rather than the generator. The kept
 * values take {@code size} x (sum of dims) x 4 bytes, which is capped at {@value #MAX_VALUES} values.
 * The field arrays of a record are shared between reads, so consumers must not write to them (the
 * {@code vector} modality does not).
 */
public final class RandomVectorsSource implements DatasetSource {

    /** The most values the source keeps: 1 GiB of float32. */
    static final long MAX_VALUES = 1L << 28;

    /**
     * @param size the number of records
     * @param seed the data's own seed
     * @param dims field name to vector length
     * @param classes when > 0, a field {@code label} with a class index drawn uniformly from [0, classes)
     */
    public record Params(
            @Doc("Number of records") @Default("4096") int size,
            @Doc("Seed of the data, independent of the run's seed") @Default("0") long seed,
            @Doc("Field name to vector length, e.g. {image: 3072, text: 768}") Map<String, Integer> dims,
            @Doc("When > 0, also a field 'label' holding a class index in [0, classes)") @Default("0") int classes) {

        public Params {
            if (size < 1) {
                throw new InvalidParamException("size", "must be at least 1, found " + size);
            }
            if (dims == null || dims.isEmpty()) {
                throw new InvalidParamException("dims", "must name at least one field and its length, e.g."
                        + " {image: 3072, text: 768}");
            }
            long perRecord = 0;
            for (Map.Entry<String, Integer> entry : dims.entrySet()) {
                if (entry.getValue() == null || entry.getValue() < 1) {
                    throw new InvalidParamException("dims", "field '" + entry.getKey() + "' needs a length >= 1, found "
                            + entry.getValue());
                }
                if (entry.getKey().equals("label") && classes > 0) {
                    throw new InvalidParamException("dims", "names a field 'label', which classes > 0 adds; rename it");
                }
                perRecord += entry.getValue();
            }
            if (perRecord * size > MAX_VALUES) {
                throw new InvalidParamException("size", size + " records of " + perRecord + " values are more than the "
                        + MAX_VALUES + " values (1 GiB) the source keeps in memory; lower size or dims");
            }
            if (classes < 0) {
                throw new InvalidParamException("classes", "must be 0 (no label) or more, found " + classes);
            }
            dims = Map.copyOf(new LinkedHashMap<>(dims));
        }
    }

    /** sqrt(3): a uniform draw from [-1, 1) scaled by it has variance 1. */
    private static final float UNIT_VARIANCE = (float) Math.sqrt(3);

    private final Params params;
    private final String[] fields;
    private final AtomicReferenceArray<DataRecord> kept;

    public RandomVectorsSource(Params params, ComponentContext context) {
        this.params = params;
        this.fields = params.dims().keySet().stream().sorted().toArray(String[]::new);
        this.kept = new AtomicReferenceArray<>(params.size());
    }

    @Override
    public long size() {
        return params.size();
    }

    @Override
    public DataRecord get(long index) {
        if (index < 0 || index >= params.size()) {
            throw new IndexOutOfBoundsException("random has " + params.size() + " records, asked for " + index);
        }
        DataRecord record = kept.get((int) index);
        if (record == null) {
            record = generate(index);
            // Two threads may generate the same record; both get equal values, and one copy is kept.
            kept.compareAndSet((int) index, null, record);
        }
        return record;
    }

    @Override
    public String id(long index) {
        return "random-" + params.seed() + "-" + index;
    }

    @Override
    public String fingerprint() {
        return "random(seed=" + params.seed() + ", size=" + params.size() + ", dims=" + new java.util.TreeMap<>(params.dims())
                + ", classes=" + params.classes() + ")";
    }

    private DataRecord generate(long index) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (int f = 0; f < fields.length; f++) {
            float[] vector = new float[params.dims().get(fields[f])];
            long state = ShapesSource.mix(params.seed(), index * 1_000_003L + f);
            for (int i = 0; i < vector.length; i++) {
                state += 0x9E3779B97F4A7C15L;
                // The top 24 bits of a SplitMix64 output, as a float in [-1, 1).
                vector[i] = ((mixBits(state) >>> 40) * 0x1.0p-23f - 1f) * UNIT_VARIANCE;
            }
            values.put(fields[f], vector);
        }
        if (params.classes() > 0) {
            values.put("label", (int) Long.remainderUnsigned(ShapesSource.mix(params.seed() ^ 0x5DEECE66DL, index),
                    params.classes()));
        }
        String id = id(index);
        return new DataRecord(id, id, "random(seed=" + params.seed() + ")#" + index, values);
    }

    /** SplitMix64's output function (Steele, Lea and Flood, OOPSLA 2014). */
    private static long mixBits(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
