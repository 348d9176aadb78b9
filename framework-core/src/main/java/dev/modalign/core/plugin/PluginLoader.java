package dev.modalign.core.plugin;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.io.IOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Finds plugins: those built into the distribution (on the class path) and every jar in the plugin
 * directories. In a plugin directory, each {@code *.jar} is one plugin, and each sub-directory is one
 * plugin made of the jars in it (for a plugin with its own dependencies); each gets its own {@link
 * PluginClassLoader}. A plugin that fails to load is reported with the reason and the others load.
 */
public final class PluginLoader {

    static final String BUILT_IN = "built in";

    private final List<LoadedPlugin> plugins = new ArrayList<>();
    private final List<PluginFailure> failures = new ArrayList<>();
    private final List<RegisteredComponent> registered = new ArrayList<>();

    private PluginLoader() {}

    /** Loads the built-in plugins and those in {@code directories} (missing directories are skipped). */
    public static PluginRegistry load(List<Path> directories) {
        return load(directories, true);
    }

    /** Loads the plugins in {@code directories}, and the built-in ones when {@code builtIn} is true. */
    public static PluginRegistry load(List<Path> directories, boolean builtIn) {
        PluginLoader loader = new PluginLoader();
        if (builtIn) {
            loader.loadBuiltIn();
        }
        for (Path directory : directories) {
            loader.loadDirectory(directory);
        }
        return new PluginRegistry(loader.plugins, loader.failures, loader.registered);
    }

    private void loadBuiltIn() {
        ClassLoader host = PluginLoader.class.getClassLoader();
        ServiceLoader.load(Plugin.class, host).stream().forEach(provider -> {
            String source = provider.type().getName();
            try {
                register(provider.get(), BUILT_IN, host);
            } catch (Throwable e) {
                failures.add(new PluginFailure(source, reason(e)));
            }
        });
    }

    private void loadDirectory(Path directory) {
        if (!Files.isDirectory(directory)) {
            return;
        }
        List<Path> entries;
        try (Stream<Path> list = Files.list(directory)) {
            entries = list.sorted().toList();
        } catch (IOException e) {
            failures.add(new PluginFailure(directory.toString(), "cannot list the directory: " + e.getMessage()));
            return;
        }
        for (Path entry : entries) {
            if (Files.isRegularFile(entry) && entry.toString().endsWith(".jar")) {
                loadUnit(entry, List.of(entry));
            } else if (Files.isDirectory(entry)) {
                List<Path> jars = jarsIn(entry);
                if (!jars.isEmpty()) {
                    loadUnit(entry, jars);
                }
            }
        }
    }

    private List<Path> jarsIn(Path directory) {
        try (Stream<Path> list = Files.list(directory)) {
            return list.filter(p -> Files.isRegularFile(p) && p.toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            failures.add(new PluginFailure(directory.toString(), "cannot list the directory: " + e.getMessage()));
            return List.of();
        }
    }

    private void loadUnit(Path source, List<Path> jars) {
        String name = source.getFileName().toString().replaceFirst("\\.jar$", "");
        List<URL> urls = new ArrayList<>();
        for (Path jar : jars) {
            // A class loader skips an unreadable jar silently; open each so a corrupt one is named.
            try (JarFile ignored = new JarFile(jar.toFile())) {
                urls.add(jar.toUri().toURL());
            } catch (IOException e) {
                failures.add(new PluginFailure(jar.toString(), reason(e)));
                return;
            }
        }
        PluginClassLoader loader = new PluginClassLoader(name, urls, PluginLoader.class.getClassLoader());
        int found = 0;
        try {
            for (ServiceLoader.Provider<Plugin> provider : ServiceLoader.load(Plugin.class, loader).stream().toList()) {
                found++;
                try {
                    register(PluginRegistry.callInto(new LoadedPlugin(name, "?", source.toString(), null, loader),
                            provider::get), source.toString(), loader);
                } catch (Throwable e) {
                    failures.add(new PluginFailure(source + " (" + provider.type().getName() + ")", reason(e)));
                }
            }
        } catch (Throwable e) {
            failures.add(new PluginFailure(source.toString(), reason(e)));
            return;
        }
        if (found == 0) {
            failures.add(new PluginFailure(source.toString(), "it has no META-INF/services/" + Plugin.class.getName()
                    + " entry naming its Plugin class; add one (see README, 'Writing a plugin')"));
        }
    }

    /** Checks the plugin's API version, reads its components, and keeps them only if all of that works. */
    private void register(Plugin plugin, String source, ClassLoader loader) {
        String apiVersion;
        try {
            apiVersion = plugin.apiVersion();
        } catch (AbstractMethodError e) {
            throw new IllegalStateException("it was built against an API without apiVersion(); rebuild it against "
                    + "framework-api " + ModalignApi.VERSION);
        }
        if (!ModalignApi.compatible(ModalignApi.VERSION, apiVersion)) {
            throw new IllegalStateException("plugin '" + plugin.name() + "' was built against modalign API " + apiVersion
                    + ", but this modalign has API " + ModalignApi.VERSION + "; rebuild the plugin against framework-api "
                    + ModalignApi.VERSION + " or use a modalign with API " + apiVersion.split("\\.")[0] + ".x");
        }
        LoadedPlugin loaded = new LoadedPlugin(plugin.name(), plugin.version(), source, plugin, loader);
        List<RegisteredComponent> components = new ArrayList<>();
        PluginRegistry.callInto(loaded, () -> {
            for (ComponentKind kind : ComponentKind.values()) {
                for (ComponentFactory<?, ?> factory : kind.contributionsOf(plugin)) {
                    components.add(new RegisteredComponent(kind, factory, loaded));
                }
            }
            return null;
        });
        plugins.add(loaded);
        registered.addAll(components);
    }

    private static String reason(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? "" : ": " + root.getMessage();
        if (root instanceof IllegalStateException) {
            return root.getMessage();
        }
        if (root instanceof LinkageError) {
            return "it does not link against this modalign (" + root.getClass().getSimpleName() + message
                    + "); it was probably built against another API version";
        }
        if (root instanceof java.util.zip.ZipException || root instanceof IOException) {
            return "the jar cannot be read (" + root.getClass().getSimpleName() + message + "); is it corrupt?";
        }
        return root.getClass().getSimpleName() + message;
    }
}
