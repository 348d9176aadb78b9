package dev.modalign.experiments;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs the modalign command line in a separate JVM with this test's class path, so that a test can kill it. */
final class ChildJvm {

    private ChildJvm() {}

    /** Starts {@code modalign ARGS} with its output in {@code log} and its cache (spool, checkpoints) in {@code cache}. */
    static Process start(Path log, Path cache, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx2g");
        command.add("-Dai.djl.offline=true");
        command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("dev.modalign.core.cli.Main");
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
        builder.environment().put("MODALIGN_CACHE", cache.toString());
        return builder.start();
    }
}
