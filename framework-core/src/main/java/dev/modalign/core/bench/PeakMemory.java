package dev.modalign.core.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's peak resident memory (Linux's VmHWM), which counts the engine's native arrays as well
 * as the Java heap. Linux lets a process reset its peak to the current resident size by writing 5 to
 * /proc/self/clear_refs (since 4.0), so each measured run reports its own peak.
 */
final class PeakMemory {

    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private PeakMemory() {}

    /** Starts a new peak from the current resident size, where the system allows it. */
    static void reset() {
        try {
            Files.writeString(CLEAR_REFS, "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // Not Linux, or not allowed: the peak then covers the whole process so far.
        }
    }

    /** The peak resident size in bytes since the last {@link #reset}, or -1 where the system does not say. */
    static long peakBytes() {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Not Linux.
        }
        return -1;
    }

    /** Bytes as MiB or GiB, for tables; "-" when unknown. */
    static String format(double bytes) {
        if (!(bytes >= 0)) {
            return "-";
        }
        return bytes >= 1024L * 1024 * 1024 ? String.format("%.2f GiB", bytes / (1024.0 * 1024 * 1024))
                : String.format("%.0f MiB", bytes / (1024.0 * 1024));
    }
}
