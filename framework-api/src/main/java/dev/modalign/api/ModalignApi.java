package dev.modalign.api;

/**
 * The version of this API. A plugin reports the version it was compiled against through {@link
 * Plugin#apiVersion()}; the host refuses a plugin whose major version differs from its own, or
 * whose minor version is newer than its own, and names both versions.
 */
public final class ModalignApi {

    /**
     * The API version, "major.minor". This is a compile-time constant: a plugin that returns it from
     * {@link Plugin#apiVersion()} has the value of the API it was built against compiled into its
     * own class file.
     */
    public static final String VERSION = "1.4";

    private ModalignApi() {}

    /** Whether a plugin built against {@code pluginVersion} can run on a host of {@code hostVersion}. */
    public static boolean compatible(String hostVersion, String pluginVersion) {
        int[] host = parse(hostVersion);
        int[] plugin = parse(pluginVersion);
        return host[0] == plugin[0] && plugin[1] <= host[1];
    }

    private static int[] parse(String version) {
        String[] parts = version.trim().split("\\.");
        if (parts.length != 2) {
            throw new IllegalArgumentException("API version must be 'major.minor', found '" + version + "'");
        }
        return new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])};
    }
}
