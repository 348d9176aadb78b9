package dev.modalign.core.plugin;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;

/**
 * The class loader of one plugin directory (or one jar): the plugin's own jars first, then the
 * JDK; only the API, DJL and SLF4J come from the host. So two plugins never see each other's
 * dependencies, a plugin never sees the host's (Guice, SnakeYAML), and DJL's native library is
 * loaded once per JVM by the host.
 */
public final class PluginClassLoader extends URLClassLoader {

    /** Packages whose classes and resources come from the host: the API and what it speaks. */
    static final List<String> HOST_PACKAGES = List.of("dev.modalign.api.", "ai.djl.", "org.slf4j.", "com.sun.jna.");

    private final ClassLoader host;
    private final String pluginName;

    public PluginClassLoader(String pluginName, List<URL> jars, ClassLoader host) {
        super("plugin:" + pluginName, jars.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
        this.host = host;
        this.pluginName = pluginName;
    }

    public String pluginName() {
        return pluginName;
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        synchronized (getClassLoadingLock(name)) {
            if (fromHost(name)) {
                return host.loadClass(name);
            }
            Class<?> loaded = findLoadedClass(name);
            if (loaded == null) {
                try {
                    loaded = findClass(name);
                } catch (ClassNotFoundException notInPlugin) {
                    loaded = getParent().loadClass(name);
                }
            }
            if (resolve) {
                resolveClass(loaded);
            }
            return loaded;
        }
    }

    @Override
    public URL getResource(String name) {
        if (fromHost(name.replace('/', '.'))) {
            return host.getResource(name);
        }
        URL own = findResource(name);
        return own != null ? own : getParent().getResource(name);
    }

    @Override
    public Enumeration<URL> getResources(String name) throws IOException {
        if (fromHost(name.replace('/', '.'))) {
            return host.getResources(name);
        }
        // Only the plugin's own resources: above all, its own META-INF/services entry and not the host's.
        Enumeration<URL> own = findResources(name);
        return own.hasMoreElements() ? own : Collections.emptyEnumeration();
    }

    private static boolean fromHost(String name) {
        for (String prefix : HOST_PACKAGES) {
            if (name.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }
}
