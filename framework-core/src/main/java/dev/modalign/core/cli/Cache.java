package dev.modalign.core.cli;

import java.nio.file.Path;

/** The cache directory components may keep across runs: $MODALIGN_CACHE, else ~/.cache/modalign. */
final class Cache {

    private Cache() {}

    static Path directory() {
        String env = System.getenv("MODALIGN_CACHE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "modalign");
    }
}
