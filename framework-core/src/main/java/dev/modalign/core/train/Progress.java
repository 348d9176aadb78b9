package dev.modalign.core.train;

import java.io.PrintStream;
import java.time.Duration;

/**
 * Shows training progress: on a terminal, one line redrawn in place with a bar, loss, throughput
 * and ETA; elsewhere (CI logs, files), a plain line about every twentieth of the run.
 */
final class Progress {

    private final PrintStream out;
    private final boolean terminal;
    private final long total;
    private final long firstStep;
    private final long start = System.nanoTime();
    private long lastDraw;
    private long nextPlain;

    /** @param firstStep the step training starts from (0, or the step a resumed run continues from) */
    Progress(PrintStream out, boolean terminal, long total, long firstStep) {
        this.out = out;
        this.terminal = terminal;
        this.total = total;
        this.firstStep = firstStep;
        this.nextPlain = firstStep;
    }

    static boolean isTerminal() {
        String term = System.getenv("TERM");
        return System.console() != null && term != null && !term.equals("dumb") && System.getenv("CI") == null;
    }

    void update(long step, double loss, double samplesPerSecond) {
        long done = step + 1;
        long now = System.nanoTime();
        // The line is formatted only when it is drawn: at tens of steps a second, formatting it every step
        // was work on the training thread for a line nobody sees.
        if (terminal) {
            if (now - lastDraw > 100_000_000L || done == total) {
                int width = 24;
                int filled = (int) (width * done / total);
                out.print("\r[" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + stats(done, now, loss,
                        samplesPerSecond) + "   ");
                if (done == total) {
                    out.println();
                }
                out.flush();
                lastDraw = now;
            }
        } else if (step >= nextPlain || done == total) {
            out.println("step " + stats(done, now, loss, samplesPerSecond));
            nextPlain = step + Math.max(1, total / 20);
        }
    }

    private String stats(long done, long now, double loss, double samplesPerSecond) {
        double elapsed = (now - start) / 1e9;
        double stepsPerSecond = (done - firstStep) / Math.max(elapsed, 1e-9);
        long eta = Math.round((total - done) / Math.max(stepsPerSecond, 1e-9));
        return String.format("%d/%d loss %.4f | %.1f steps/s %.0f samples/s | ETA %s", done, total, loss,
                stepsPerSecond, samplesPerSecond, clock(eta));
    }

    static String clock(long seconds) {
        Duration d = Duration.ofSeconds(Math.max(0, seconds));
        return d.toHours() > 0 ? String.format("%d:%02d:%02d", d.toHours(), d.toMinutesPart(), d.toSecondsPart())
                : String.format("%d:%02d", d.toMinutesPart(), d.toSecondsPart());
    }
}
