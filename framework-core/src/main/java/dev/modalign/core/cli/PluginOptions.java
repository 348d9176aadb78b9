package dev.modalign.core.cli;

import dev.modalign.core.plugin.PluginFailure;
import dev.modalign.core.plugin.PluginLoader;
import dev.modalign.core.plugin.PluginRegistry;
import java.io.File;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** Where plugin jars are found: --plugin-dir, else MODALIGN_PLUGIN_DIR, else plugins/ next to the launcher. */
final class PluginOptions {

    static final String ENV = "MODALIGN_PLUGIN_DIR";

    @Option(names = "--plugin-dir", paramLabel = "DIR",
            description = "A directory of plugin jars (repeatable). Default: $" + ENV
                    + " (a path list), else plugins/ next to the launcher.")
    List<Path> pluginDirs = new ArrayList<>();

    List<Path> directories() {
        if (!pluginDirs.isEmpty()) {
            return pluginDirs;
        }
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) {
            return List.of(env.split(File.pathSeparator)).stream().filter(s -> !s.isBlank()).map(Path::of).toList();
        }
        String home = System.getProperty("modalign.home");
        return List.of((home == null ? Path.of(".") : Path.of(home)).resolve("plugins"));
    }

    /** Loads the plugins and warns about each that failed. */
    PluginRegistry load(PrintStream err) {
        PluginRegistry registry = PluginLoader.load(directories());
        for (PluginFailure failure : registry.failures()) {
            err.println("warning: " + failure.render());
        }
        return registry;
    }
}
