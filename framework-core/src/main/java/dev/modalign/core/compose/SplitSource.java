package dev.modalign.core.compose;

import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import java.util.Arrays;

/**
 * The records of a source that fall into one part of a {@link Split}: {@code data.train: {split:
 * train, ...}} and {@code data.eval: {split: test, ...}} over the same files. The part of each record
 * is decided once, from {@link DatasetSource#id}, when the run is composed.
 */
final class SplitSource implements DatasetSource {

    private final DatasetSource source;
    private final Split split;
    private final long[] indices;

    private SplitSource(DatasetSource source, Split split, long[] indices) {
        this.source = source;
        this.split = split;
        this.indices = indices;
    }

    /** The part of {@code source} that {@code split} chooses; fails when it is empty. */
    static SplitSource of(DatasetSource source, Split split) {
        long size = source.size();
        long[] chosen = new long[Math.toIntExact(size)];
        int count = 0;
        for (long index = 0; index < size; index++) {
            if (split.contains(source.id(index))) {
                chosen[count++] = index;
            }
        }
        if (count == 0) {
            throw new DataException("the " + split.describe() + " part of " + source.fingerprint() + " holds no record of "
                    + size + "; use a larger fraction, or split by listing files");
        }
        return new SplitSource(source, split, Arrays.copyOf(chosen, count));
    }

    @Override
    public long size() {
        return indices.length;
    }

    @Override
    public DataRecord get(long index) {
        if (index < 0 || index >= indices.length) {
            throw new IndexOutOfBoundsException("record " + index + " of " + indices.length);
        }
        return source.get(indices[(int) index]);
    }

    @Override
    public String id(long index) {
        return source.id(indices[(int) index]);
    }

    @Override
    public String fingerprint() {
        return source.fingerprint() + ", split=" + split.describe() + " (" + indices.length + " records)";
    }

    @Override
    public void close() {
        source.close();
    }
}
