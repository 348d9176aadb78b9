package dev.modalign.testkit;

import dev.modalign.api.Plugin;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds plugin jars in tests, the way a third party would: compiles sources against the API (and
 * DJL's api) alone, and packs them with a service entry. Also packs an existing classes directory.
 */
public final class PluginJars {

    private PluginJars() {}

    /**
     * Compiles {@code sources} (class name to source text) against the API and writes a jar with the
     * given extra resources (path to text).
     */
    public static Path compile(Path jar, Map<String, String> sources, Map<String, String> resources) {
        try {
            Path work = Files.createTempDirectory("modalign-plugin-src");
            Path classes = Files.createDirectories(work.resolve("classes"));
            List<String> arguments = new ArrayList<>(List.of("-d", classes.toString(), "--release", "17",
                    "-classpath", codeSource(Plugin.class) + java.io.File.pathSeparator
                            + codeSource(ai.djl.ndarray.NDArray.class)));
            for (Map.Entry<String, String> source : sources.entrySet()) {
                Path file = work.resolve("src").resolve(source.getKey().replace('.', '/') + ".java");
                Files.createDirectories(file.getParent());
                Files.writeString(file, source.getValue());
                arguments.add(file.toString());
            }
            JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
            if (compiler == null) {
                throw new IllegalStateException("no Java compiler: run the tests on a JDK, not a JRE");
            }
            java.io.ByteArrayOutputStream errors = new java.io.ByteArrayOutputStream();
            int status = compiler.run(null, null, errors, arguments.toArray(String[]::new));
            if (status != 0) {
                throw new IllegalStateException("the plugin sources do not compile:\n" + errors);
            }
            for (Map.Entry<String, String> resource : resources.entrySet()) {
                Path file = classes.resolve(resource.getKey());
                Files.createDirectories(file.getParent());
                Files.writeString(file, resource.getValue());
            }
            Path packed = pack(classes, jar);
            deleteTree(work);
            return packed;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(file);
            }
        }
    }

    /** Packs a classes directory (e.g. target/classes) into a jar. */
    public static Path pack(Path classes, Path jar) {
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        try {
            Files.createDirectories(jar.toAbsolutePath().getParent());
            try (OutputStream raw = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(raw, manifest);
                    Stream<Path> files = Files.walk(classes)) {
                for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                    out.putNextEntry(new JarEntry(classes.relativize(file).toString().replace('\\', '/')));
                    out.write(Files.readAllBytes(file));
                    out.closeEntry();
                }
            }
            return jar;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The service entry resource for a plugin class. */
    public static Map<String, String> serviceEntry(String pluginClass) {
        return Map.of("META-INF/services/" + Plugin.class.getName(), pluginClass + "\n");
    }

    /** The directory or jar a class was loaded from. */
    public static Path codeSource(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

}
