package dev.modalign.experiments;

import dev.modalign.core.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Runs the modalign command line in this JVM, as the launcher would, capturing what it prints. */
final class Cli {

    /** The exit code and the printed text. */
    record Result(int code, String out, String err) {}

    /** The repository root (experiment paths are relative to it). */
    static Path repo() {
        return Path.of(System.getProperty("modalign.repo", "..")).toAbsolutePath().normalize();
    }

    static synchronized Result run(String... args) {
        PrintStream originalOut = System.out;
        PrintStream originalErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (PrintStream capturedOut = new PrintStream(new Tee(out, originalOut), true, StandardCharsets.UTF_8);
                PrintStream capturedErr = new PrintStream(new Tee(err, originalErr), true, StandardCharsets.UTF_8)) {
            System.setOut(capturedOut);
            System.setErr(capturedErr);
            int code = Main.execute(args, capturedOut, capturedErr);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(originalOut);
            System.setErr(originalErr);
        }
    }

    /** Writes to a buffer and passes through, so a long run still shows progress in the build log. */
    private static final class Tee extends java.io.OutputStream {
        private final java.io.OutputStream first;
        private final java.io.OutputStream second;

        Tee(java.io.OutputStream first, java.io.OutputStream second) {
            this.first = first;
            this.second = second;
        }

        @Override
        public void write(int b) throws java.io.IOException {
            first.write(b);
            second.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws java.io.IOException {
            first.write(b, off, len);
            second.write(b, off, len);
        }
    }
}
