package dev.modalign.plugins.mlflow;

import java.io.IOException;

/**
 * The server did not answer in time, refused the connection, answered 5xx or 429: worth trying
 * again later. {@link #maybeApplied()} tells whether the request may have reached the server and
 * been applied although no answer came back (a timeout or a 5xx after sending), which matters for
 * requests that are not idempotent.
 */
final class ServerUnavailableException extends IOException {

    private final boolean maybeApplied;

    ServerUnavailableException(String message, boolean maybeApplied, Throwable cause) {
        super(message, cause);
        this.maybeApplied = maybeApplied;
    }

    boolean maybeApplied() {
        return maybeApplied;
    }
}
