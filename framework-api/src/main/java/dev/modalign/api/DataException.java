package dev.modalign.api;

/**
 * A record that cannot be read or decoded: a missing file, a corrupt image, a malformed row. The
 * message names the source (file and, where there is one, line) and what is wrong.
 */
public class DataException extends RuntimeException {

    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
