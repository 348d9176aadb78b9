package dev.modalign.plugins.mlflow;

import java.util.ArrayList;
import java.util.List;

/**
 * How far a run's spool has reached the server, kept in {@code state.json} beside the records and
 * rewritten atomically after every acknowledged request. Field names are the JSON keys.
 */
final class SpoolState {
    /** The id the run had before the server knew it; also the spool's directory name. */
    String localId;
    /** The server's run id once the run exists there. */
    String runId;
    String experimentId;
    String artifactUri;
    /** Every record up to this seq is on the server. */
    long ackedSeq;
    /**
     * The last seq of a request that went out without an answer (a timeout, a 5xx, a crash before the
     * ack was written): before sending those records again, what the server holds is checked, so
     * that a metric is not logged twice. 0 when nothing is in doubt.
     */
    long unsureUpTo;
    /** Set when the run's end reached the server, or a sync replayed it: nothing is left to send. */
    boolean done;
    /** Records the server refused with a 4xx: reported, kept here, not sent again. */
    List<Rejection> rejected = new ArrayList<>();

    /** A refused record (a class, not a record, so that the shaded Gson of any version reads it back). */
    static final class Rejection {
        long seq;
        String kind;
        String reason;

        Rejection(long seq, String kind, String reason) {
            this.seq = seq;
            this.kind = kind;
            this.reason = reason;
        }

        long seq() {
            return seq;
        }

        String reason() {
            return reason;
        }
    }
}
