package dev.modalign.plugins.evaluators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class EvaluatorsPluginTest {

    @Test
    void pluginIsFoundByServiceLoaderWithItsEvaluators() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("evaluators")).findFirst().orElseThrow();
        assertInstanceOf(EvaluatorsPlugin.class, plugin);
        assertEquals("0.1.0", plugin.version());
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertEquals(List.of("zero-shot", "linear-probe", "knn", "few-shot", "geometry"),
                plugin.evaluators().stream().map(f -> f.name()).toList());
    }
}
