package dev.modalign.plugins.maskedcontrastive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class MaskedContrastivePluginTest {

    @Test
    void isFoundByTheServiceLoaderWithThePapersTitle() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("masked-contrastive")).findFirst().orElseThrow();
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertTrue(plugin.losses().get(0).description().contains("SSAST: Self-Supervised Audio Spectrogram Transformer"));
        assertEquals("patch-mask", plugin.augmentations().get(0).name());
        assertEquals("image-patches", plugin.encoders().get(0).name());
    }
}
