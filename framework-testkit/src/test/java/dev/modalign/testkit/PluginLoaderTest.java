package dev.modalign.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.core.UserError;
import dev.modalign.core.plugin.ComponentKind;
import dev.modalign.core.plugin.PluginClassLoader;
import dev.modalign.core.plugin.PluginFailure;
import dev.modalign.core.plugin.PluginLoader;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.plugin.RegisteredComponent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Plugin jars built the way a third party builds them, dropped into a plugin directory. */
class PluginLoaderTest {

    @TempDir
    Path plugins;

    /** A plugin registering one loss; {@code extra} is code placed in its constructor. */
    static String pluginSource(String pkg, String lossName, String apiVersion, String extra) {
        return """
                package PKG;

                import dev.modalign.api.*;
                import java.util.List;

                public final class ThirdPartyPlugin implements Plugin {
                    private final String seen;

                    public ThirdPartyPlugin() {
                        EXTRA
                        String guice;
                        try {
                            Class.forName("com.google.inject.Guice");
                            guice = "sees guice";
                        } catch (ClassNotFoundException e) {
                            guice = "no guice";
                        }
                        seen = guice + ", helper " + new PKG.Helper().version();
                    }

                    public String name() { return "PKG"; }
                    public String version() { return "9.9"; }
                    public String apiVersion() { return "API"; }

                    public List<ComponentFactory<?, Loss>> losses() {
                        return List.of(ComponentFactory.of("LOSS", seen, NoParams.class,
                                (p, c) -> (batch, context) -> new LossOutput(batch.tower("a").embedding().sum())));
                    }
                }
                """.replace("PKG", pkg).replace("LOSS", lossName).replace("API", apiVersion).replace("EXTRA", extra);
    }

    static String helperSource(String pkg, String version) {
        return "package " + pkg + "; public final class Helper { public String version() { return \"" + version + "\"; } }";
    }

    private Path jar(String file, String pkg, String lossName, String apiVersion, String extra) {
        Map<String, String> sources = new HashMap<>();
        sources.put(pkg + ".ThirdPartyPlugin", pluginSource(pkg, lossName, apiVersion, extra));
        sources.put(pkg + ".Helper", helperSource(pkg, file));
        return PluginJars.compile(plugins.resolve(file), sources, PluginJars.serviceEntry(pkg + ".ThirdPartyPlugin"));
    }

    private static List<String> failures(PluginRegistry registry) {
        return registry.failures().stream().map(PluginFailure::render).toList();
    }

    @Test
    void aJarInThePluginDirectoryRegistersItsComponentsInItsOwnClassLoader() {
        jar("good.jar", "com.example.good", "third-party-loss", "1.0", "");
        PluginRegistry registry = PluginLoader.load(List.of(plugins));
        assertEquals(List.of(), failures(registry));
        RegisteredComponent loss = registry.find(ComponentKind.LOSS, "third-party-loss").orElseThrow();
        assertEquals("good", loss.plugin().name().replace("com.example.", ""));
        assertEquals("9.9", loss.plugin().version());
        assertTrue(loss.plugin().loader() instanceof PluginClassLoader);
        assertEquals("no guice, helper good.jar", loss.factory().description(),
                "a plugin sees the API and DJL, never the host's own dependencies such as Guice");
    }

    @Test
    void twoPluginsBundlingTheSameClassEachSeeTheirOwn() {
        jar("first.jar", "com.example.shared", "first-loss", "1.0", "");
        jar("second.jar", "com.example.shared", "second-loss", "1.0", "");
        PluginRegistry registry = PluginLoader.load(List.of(plugins), false);
        assertEquals(List.of(), failures(registry));
        assertEquals("no guice, helper first.jar", registry.find(ComponentKind.LOSS, "first-loss").orElseThrow().factory().description());
        assertEquals("no guice, helper second.jar", registry.find(ComponentKind.LOSS, "second-loss").orElseThrow().factory().description());
    }

    @Test
    void brokenPluginsAreReportedAndTheOthersStillLoad() throws IOException {
        jar("good.jar", "com.example.good", "third-party-loss", "1.0", "");
        Files.write(plugins.resolve("corrupt.jar"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        PluginJars.compile(plugins.resolve("no-service.jar"), Map.of("com.example.none.Helper",
                helperSource("com.example.none", "x")), Map.of());
        jar("newer-api.jar", "com.example.newer", "newer-loss", "2.0", "");
        jar("throws.jar", "com.example.throwing", "throwing-loss", "1.0",
                "if (true) throw new IllegalStateException(\"cannot find my model file\");");
        PluginRegistry registry = PluginLoader.load(List.of(plugins), false);

        assertTrue(registry.find(ComponentKind.LOSS, "third-party-loss").isPresent(), "the good plugin still loads");
        List<String> failures = failures(registry);
        assertEquals(4, failures.size(), failures.toString());
        assertTrue(failures.get(0).matches("plugin .*corrupt.jar was not loaded: the jar cannot be read .*; is it corrupt\\?"),
                failures.get(0));
        assertTrue(failures.get(1).contains("newer-api.jar") && failures.get(1).contains("was built against modalign API 2.0,"
                + " but this modalign has API " + dev.modalign.api.ModalignApi.VERSION + "; rebuild the plugin against"
                + " framework-api " + dev.modalign.api.ModalignApi.VERSION), failures.get(1));
        assertTrue(failures.get(2).endsWith("no-service.jar was not loaded: it has no META-INF/services/dev.modalign.api.Plugin"
                + " entry naming its Plugin class; add one (see README, 'Writing a plugin')"), failures.get(2));
        assertTrue(failures.get(3).contains("throws.jar (com.example.throwing.ThirdPartyPlugin) was not loaded")
                && failures.get(3).contains("cannot find my model file"), failures.get(3));
    }

    @Test
    void aNameClaimedByTwoPluginsRefusesToStartNamingBoth() {
        jar("one.jar", "com.example.one", "same-loss", "1.0", "");
        jar("two.jar", "com.example.two", "same-loss", "1.0", "");
        PluginRegistry registry = PluginLoader.load(List.of(plugins), false);
        UserError error = assertThrows(UserError.class, registry::requireNoConflicts);
        String message = error.getMessage();
        assertTrue(message.startsWith("loss 'same-loss' is registered by both plugin 'com.example.one'")
                && message.contains("one.jar") && message.contains("plugin 'com.example.two'") && message.contains("two.jar")
                && message.endsWith("remove one of the jars or rename the component in one of them"), message);
    }
}
