package dev.modalign.core;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the modalign command line in a separate JVM with this test's class path, so that a test can kill
 * it (SIGKILL, SIGTERM) as a user or a scheduler would, without killing the test.
 */
public final class ChildJvm {

    private ChildJvm() {}

    /**
     * Starts {@code modalign ARGS} with its output in {@code log}; the cache (and so any spool) in {@code cache}.
     */
    public static Process start(Path log, Path cache, String... args) throws IOException {
        return startMain("dev.modalign.core.cli.Main", log, cache, args);
    }

    /** Starts a main class of this class path with its output in {@code log}. */
    public static Process startMain(String mainClass, Path log, Path cache, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx1g");
        command.add("-Dai.djl.offline=true");
        command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
        builder.environment().put("MODALIGN_CACHE", cache.toString());
        builder.environment().put("OMP_NUM_THREADS", "1");
        return builder.start();
    }
}
