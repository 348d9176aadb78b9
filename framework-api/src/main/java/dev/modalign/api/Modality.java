package dev.modalign.api;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * A kind of data (image, text, audio, ...): decodes one raw field of a record into an example, and
 * collates examples into a batch of NDArrays. It owns its featuriser or tokenizer.
 *
 * <p>Threading: {@link #decode} and {@link #collate} are called concurrently from data-loader
 * worker threads, so implementations must be thread-safe (stateless after construction is best).
 *
 * @param <E> the example type, e.g. {@link ImageExample}; augmentations of this modality take it
 */
public interface Modality<E> {

    /** The example class, so the host can check that an augmentation fits this modality. */
    Class<E> exampleType();

    /** What {@link #collate} produces, for the encoder. */
    InputSpec spec();

    /**
     * Decodes one raw field.
     *
     * @param raw a {@link String}, {@code byte[]}, {@link java.nio.file.Path}, {@code float[]} or
     *     {@link Number}, as the dataset source gives it
     * @param origin where the value came from ("train.csv:12 image"), for error messages
     * @throws DataException when the value cannot be decoded; the message includes {@code origin}
     */
    E decode(Object raw, String origin);

    /**
     * Collates examples into the arrays the encoder reads. The arrays belong to {@code manager},
     * which the caller closes after the step.
     */
    NDList collate(List<E> examples, NDManager manager);
}
