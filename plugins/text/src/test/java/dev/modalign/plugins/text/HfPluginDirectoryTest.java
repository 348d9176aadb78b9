package dev.modalign.plugins.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.Gson;
import dev.modalign.api.Modality;
import dev.modalign.api.TokenExample;
import dev.modalign.api.TokenSpec;
import dev.modalign.core.plugin.ComponentKind;
import dev.modalign.core.plugin.PluginLoader;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.plugin.RegisteredComponent;
import dev.modalign.testkit.PluginJars;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tokenizer: hf} from a plugin directory laid out as the README says for a plugin with
 * dependencies ({@code plugins/text/*.jar}: the plugin, gson, DJL's tokenizers jar), in its own
 * class loader. The host (here the test class path) provides the API and DJL, {@code
 * ai.djl.huggingface} included, since the plugin class loader takes every {@code ai.djl.} class
 * from the host; the tokenizers jar in the directory supplies the native library resource, which
 * DJL looks up through the thread's context class loader (the plugin's).
 */
class HfPluginDirectoryTest {

    @TempDir
    Path plugins;

    @Test
    void theHfTokenizerWorksFromAPluginDirectory() throws IOException {
        Path dir = Files.createDirectories(plugins.resolve("text"));
        Path classes = PluginJars.codeSource(TextPlugin.class);
        PluginJars.pack(classes, dir.resolve("modalign-plugin-text.jar"));
        for (Class<?> dependency : List.of(Gson.class, HuggingFaceTokenizer.class)) {
            Path jar = PluginJars.codeSource(dependency);
            Files.copy(jar, dir.resolve(jar.getFileName()));
        }
        PluginRegistry registry = PluginLoader.load(List.of(plugins), false);
        assertTrue(registry.failures().isEmpty(), registry.failures().toString());
        RegisteredComponent text = registry.find(ComponentKind.MODALITY, "text").orElseThrow();
        Class<? extends Record> paramsType = text.factory().paramsType();
        assertNotSame(TextModality.Params.class, paramsType, "the plugin's classes should come from its own loader");
        Record params;
        try {
            params = (Record) paramsType.getMethod("hf", String.class, int.class, boolean.class)
                    .invoke(null, HfTextModalityTest.fixture().toString(), 32, true);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
        Modality<?> modality = registry.create(text, params, TestContext.builder().build());
        assertEquals(new TokenSpec(19, 32, 17, 3, Set.of(0, 1, 2, 3, 17, 18)), modality.spec());
        Object example = PluginRegistry.callInto(text.plugin(), () -> modality.decode("Small blue squares", "test"));
        assertArrayEquals(new int[] {1, 15, 12, 10, 11, 2}, ((TokenExample) example).ids());
    }
}
