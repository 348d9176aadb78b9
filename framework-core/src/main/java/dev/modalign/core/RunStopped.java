package dev.modalign.core;

/**
 * A run stopped on request (Ctrl-C, SIGTERM) at a step boundary, after it wrote a checkpoint and was
 * marked KILLED. Not a {@link RunFailure}: whatever runs several runs (a sweep) stops too rather than
 * going on with the next. The CLI prints the message and exits with {@link #exitCode()}.
 */
public final class RunStopped extends RuntimeException {

    private final int exitCode;

    public RunStopped(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    /** 130 after SIGINT, 143 after SIGTERM, as a shell reports a process those signals ended. */
    public int exitCode() {
        return exitCode;
    }
}
