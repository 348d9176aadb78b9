package dev.modalign.api;

/**
 * Where records come from: a manifest, shards, class folders, a generator. Random access by index
 * lets the host shuffle with its seed and load ahead on several threads.
 *
 * <p>Threading: {@link #get} is called concurrently from loader threads.
 */
public interface DatasetSource extends AutoCloseable {

    /** The number of records. */
    long size();

    /**
     * The record at {@code index}, 0 <= index < size().
     *
     * @throws DataException when it cannot be read, naming the file and line
     */
    DataRecord get(long index);

    /**
     * The id of the record at {@code index} ({@link DataRecord#id()}), which splits hash. Override it
     * where {@link #get} is costly (reading an image) and the id is at hand (a key in an index).
     */
    default String id(long index) {
        return get(index).id();
    }

    /**
     * The data's identity for provenance: a short description that changes when the data does
     * (e.g. the manifest's path and content hash, or the generator's parameters).
     */
    String fingerprint();

    @Override
    default void close() {}
}
