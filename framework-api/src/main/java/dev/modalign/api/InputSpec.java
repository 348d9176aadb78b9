package dev.modalign.api;

/**
 * What a modality's collated batch holds, so that an encoder can size itself. Implementations are
 * small records: {@link ImageSpec}, {@link TokenSpec}, {@link VectorSpec}; a plugin that adds a
 * modality and an encoder for it may define its own.
 */
public interface InputSpec {

    /** A short name of the kind of input, for error messages: "image", "tokens", "vector". */
    String kind();
}
