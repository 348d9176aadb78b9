package dev.modalign.plugins.datasets;

/**
 * A manifest row that cannot be read (wrong number of fields, bad JSON). {@link ManifestSource}
 * either fails with it or skips the row, as {@code on_error} says; the message says what is wrong,
 * and the source adds the file and line.
 */
final class MalformedRowException extends RuntimeException {

    MalformedRowException(String problem) {
        super(problem);
    }
}
