package dev.modalign.plugins.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class DatasetsPluginTest {

    @Test
    void isFoundByServiceLoaderWithItsSources() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        assertEquals(1, plugins.size(), "one Plugin per jar");
        Plugin plugin = plugins.get(0);
        assertEquals(DatasetsPlugin.class, plugin.getClass());
        assertEquals("datasets", plugin.name());
        assertEquals("0.1.0", plugin.version());
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals(List.of("shapes", "manifest", "folders", "random"),
                plugin.datasetSources().stream().map(ComponentFactory::name).toList());
        assertEquals(List.of("vector"), plugin.modalities().stream().map(ComponentFactory::name).toList());
        assertEquals(List.of(), plugin.losses());
    }
}
