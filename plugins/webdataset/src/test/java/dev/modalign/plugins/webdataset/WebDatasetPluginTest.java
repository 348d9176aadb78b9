package dev.modalign.plugins.webdataset;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class WebDatasetPluginTest {

    @Test
    void isFoundByServiceLoaderWithItsSource() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        assertEquals(1, plugins.size(), "one Plugin per jar");
        Plugin plugin = plugins.get(0);
        assertEquals(WebDatasetPlugin.class, plugin.getClass());
        assertEquals("webdataset", plugin.name());
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals(List.of("webdataset"), plugin.datasetSources().stream().map(ComponentFactory::name).toList());
        assertEquals(List.of(), plugin.modalities());
    }
}
