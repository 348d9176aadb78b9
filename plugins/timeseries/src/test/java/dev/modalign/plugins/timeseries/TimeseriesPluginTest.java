package dev.modalign.plugins.timeseries;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class TimeseriesPluginTest {

    @Test
    void isFoundByServiceLoaderWithItsComponents() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p instanceof TimeseriesPlugin).toList();
        assertEquals(1, plugins.size(), "META-INF/services should list TimeseriesPlugin once");
        Plugin plugin = plugins.get(0);
        assertEquals("timeseries", plugin.name());
        assertEquals("0.1.0", plugin.version());
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals(List.of("timeseries"), plugin.modalities().stream().map(ComponentFactory::name).toList());
        assertEquals(List.of("random-window", "jitter", "scaling", "window-slice", "time-warp"),
                plugin.augmentations().stream().map(ComponentFactory::name).toList());
    }
}
