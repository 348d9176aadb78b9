package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Doc;
import java.lang.reflect.RecordComponent;
import org.junit.jupiter.api.Test;

/** What every component factory must satisfy, whatever its kind. */
public abstract class PluginContract {

    /** The factory whose component is under test. */
    protected abstract ComponentFactory<?, ?> factoryUnderTest();

    @Test
    void factoryIsNamedAndDescribed() {
        ComponentFactory<?, ?> factory = factoryUnderTest();
        assertTrue(factory.name().matches("[a-z][a-z0-9]*(-[a-z0-9]+)*"),
                "component names are lower case words joined by '-', found '" + factory.name() + "'");
        assertFalse(factory.description() == null || factory.description().isBlank(),
                factory.name() + " has no description");
    }

    /**
     * Packs the plugin's compiled classes into a jar, loads it from a plugin directory through its own
     * class loader (which sees only the API, DJL and SLF4J of the host) and finds the component there.
     */
    @Test
    void loadsFromAPluginDirectoryInItsOwnClassLoader(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        ComponentFactory<?, ?> factory = factoryUnderTest();
        java.nio.file.Path classes = PluginJars.codeSource(factory.paramsType());
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isDirectory(classes),
                "the plugin's classes are in a jar already");
        PluginJars.pack(classes, dir.resolve("plugin-under-test.jar"));
        dev.modalign.core.plugin.PluginRegistry registry =
                dev.modalign.core.plugin.PluginLoader.load(java.util.List.of(dir), false);
        assertTrue(registry.failures().isEmpty(), "the plugin did not load from a plugin directory: "
                + registry.failures().stream().map(dev.modalign.core.plugin.PluginFailure::render).toList());
        java.util.Optional<dev.modalign.core.plugin.RegisteredComponent> found = java.util.Arrays
                .stream(dev.modalign.core.plugin.ComponentKind.values())
                .flatMap(kind -> registry.find(kind, factory.name()).stream()).findFirst();
        assertTrue(found.isPresent(), "no component '" + factory.name() + "' registered by the jar");
        ClassLoader loader = found.get().factory().paramsType().getClassLoader();
        assertTrue(loader instanceof dev.modalign.core.plugin.PluginClassLoader,
                "the component's classes should come from the plugin's own class loader, not " + loader);
    }

    @Test
    void everyParameterIsDocumented() {
        Class<? extends Record> params = factoryUnderTest().paramsType();
        for (RecordComponent component : params.getRecordComponents()) {
            assertTrue(component.isAnnotationPresent(Doc.class),
                    params.getName() + "." + component.getName() + " has no @Doc: users see it in 'modalign plugins'");
        }
    }
}
