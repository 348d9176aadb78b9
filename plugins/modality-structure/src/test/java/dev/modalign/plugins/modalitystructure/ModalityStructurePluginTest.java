package dev.modalign.plugins.modalitystructure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class ModalityStructurePluginTest {

    @Test
    void pluginIsFoundByServiceLoaderWithItsThreeLosses() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("modality-structure")).findFirst().orElseThrow();
        assertInstanceOf(ModalityStructurePlugin.class, plugin);
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals(List.of("deep-feature-separation", "brownian-bridge", "geometric-consistency"),
                plugin.losses().stream().map(f -> f.name()).toList());
    }
}
