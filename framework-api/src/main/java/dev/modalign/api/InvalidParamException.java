package dev.modalign.api;

/**
 * A parameter value that is wrong, thrown by a parameter record's constructor or a factory. The
 * host reports it at the key's place in the YAML file, so the message says what is wrong and what
 * would fix it, e.g. {@code "must be > 0, found -1"}.
 */
public class InvalidParamException extends RuntimeException {

    private final String key;

    /**
     * @param key the parameter's key as written in YAML (snake_case), or a dotted path below it
     * @param message what is wrong and what would fix it
     */
    public InvalidParamException(String key, String message) {
        super(message);
        this.key = key;
    }

    public String key() {
        return key;
    }
}
