package dev.modalign.plugins.encoders;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class EncodersPluginTest {

    @Test
    void isFoundByServiceLoaderAndRegistersTheThreeEncoders() {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p instanceof EncodersPlugin).toList();
        assertEquals(1, plugins.size(), "META-INF/services lists EncodersPlugin once");
        Plugin plugin = plugins.get(0);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals("0.1.0", plugin.version());
        assertEquals(List.of("mlp", "cnn", "transformer"),
                plugin.encoders().stream().map(ComponentFactory::name).toList());
    }
}
