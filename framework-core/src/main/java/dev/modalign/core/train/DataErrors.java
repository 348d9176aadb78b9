package dev.modalign.core.train;

import java.util.ArrayList;
import java.util.List;

/** The records a run skipped because they failed to read or decode: a count and the first few distinct messages. Thread-safe. */
public final class DataErrors {

    /** How many messages are kept to show; the count goes on. */
    static final int SHOWN = 5;

    private final List<String> first = new ArrayList<>();
    private long count;

    synchronized void add(String message) {
        count++;
        // A record that fails every epoch is shown once.
        if (first.size() < SHOWN && !first.contains(message)) {
            first.add(message);
        }
    }

    /** Starts from the count a checkpoint recorded, for a resumed run. */
    synchronized void restore(long count) {
        this.count = count;
    }

    public synchronized long count() {
        return count;
    }

    public synchronized List<String> first() {
        return List.copyOf(first);
    }

    /** "skipped 3 records that failed to load: a.csv:2 ...; b.csv:9 ..." or empty when none. */
    public synchronized String summary() {
        if (count == 0) {
            return "";
        }
        return "skipped " + count + " record" + (count == 1 ? "" : "s") + " that failed to load (train.on_data_error: skip): "
                + String.join("; ", first) + (count > first.size() ? "; ..." : "");
    }
}
