package dev.modalign.core;

/**
 * A run that stopped for a reason the user can act on (a NaN loss, a plugin that threw): the CLI
 * prints the message without a stack trace and exits with 1.
 */
public class RunFailure extends RuntimeException {

    public RunFailure(String message) {
        super(message);
    }

    public RunFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
