package dev.modalign.plugins.mlflow;

/**
 * The server refused a request with a 4xx other than 429: sending it again would fail again, so it
 * is reported and not retried.
 */
final class RequestRejectedException extends RuntimeException {

    private final int status;
    private final String errorCode;

    RequestRejectedException(int status, String errorCode, String message) {
        super(message);
        this.status = status;
        this.errorCode = errorCode;
    }

    int status() {
        return status;
    }

    String errorCode() {
        return errorCode;
    }

    /**
     * Whether the refusal is about the whole run or the connection (authentication, permission, a
     * run or experiment that is gone) rather than about the records sent: then nothing more of the
     * run can go until someone acts, and the spool waits for {@code modalign sync}.
     */
    boolean blocksRun() {
        return status == 401 || status == 403 || status == 404;
    }

    @Override
    public String toString() {
        return "HTTP " + status + (errorCode == null ? "" : " " + errorCode) + ": " + getMessage();
    }
}
