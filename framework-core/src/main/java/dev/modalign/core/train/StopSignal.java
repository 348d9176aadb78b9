package dev.modalign.core.train;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Turns Ctrl-C (SIGINT) and SIGTERM into a request that the training loop honours at the next step
 * boundary: it writes a checkpoint, marks the run KILLED and lets the tracker flush, instead of the
 * JVM dying mid-step. A second signal while the first is being honoured stops the process at once
 * (the run is then still marked KILLED by the shutdown hook, from its last checkpoint).
 *
 * <p>The handlers are the JVM's {@code sun.misc.Signal}, the one portable way a Java program can catch
 * SIGTERM without starting the JVM's shutdown; where it is unavailable (a JVM started with -Xrs, or a
 * platform without the signal) the JVM's own handling stays and the shutdown hook marks the run KILLED.
 */
final class StopSignal implements AutoCloseable {

    /** The signals handled. */
    private static final List<String> SIGNALS = List.of("INT", "TERM");

    private final PrintStream out;
    private final List<Signal> installed = new ArrayList<>();
    private final List<SignalHandler> previous = new ArrayList<>();
    private volatile String requested;

    private StopSignal(PrintStream out) {
        this.out = out;
    }

    /** Installs the handlers until {@link #close}. */
    static StopSignal install(PrintStream out) {
        StopSignal stop = new StopSignal(out);
        for (String name : SIGNALS) {
            try {
                Signal signal = new Signal(name);
                SignalHandler before = Signal.handle(signal, stop::handle);
                stop.installed.add(signal);
                stop.previous.add(before);
            } catch (IllegalArgumentException | UnsupportedOperationException | LinkageError e) {
                // The JVM keeps this signal (e.g. -Xrs): it shuts down, and the shutdown hook marks the run KILLED.
            }
        }
        return stop;
    }

    private void handle(Signal signal) {
        if (requested == null) {
            requested = "SIG" + signal.getName();
            out.println();
            out.println("SIG" + signal.getName() + ": stopping after this step with a checkpoint (send it again to stop at"
                    + " once)");
            out.flush();
        } else {
            out.println("SIG" + signal.getName() + " again: stopping now");
            out.flush();
            // From the signal's own thread: the shutdown hooks run (the run is marked KILLED), then the JVM exits.
            new Thread(() -> System.exit(128 + signal.getNumber()), "modalign-stop-now").start();
        }
    }

    /** The signal's name (SIGINT, SIGTERM) once one arrived, else null. */
    String requested() {
        return requested;
    }

    /** Asks for a stop as a signal would; for tests and for callers that stop a run themselves. */
    void request(String why) {
        if (requested == null) {
            requested = why;
        }
    }

    /** The exit code for a stop by {@code signal}: 130 for SIGINT, 143 for SIGTERM, as a shell reports them. */
    static int exitCode(String signal) {
        return switch (signal) {
            case "SIGINT" -> 130;
            case "SIGTERM" -> 143;
            default -> 1;
        };
    }

    @Override
    public void close() {
        for (int i = 0; i < installed.size(); i++) {
            try {
                Signal.handle(installed.get(i), previous.get(i));
            } catch (IllegalArgumentException e) {
                // Already gone with the JVM's shutdown.
            }
        }
    }
}
