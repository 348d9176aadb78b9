package dev.modalign.plugins.coca;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.TokenExample;
import dev.modalign.api.Modality;
import dev.modalign.plugins.text.TextModality;
import dev.modalign.testkit.TestContext;
import java.util.ServiceLoader;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class CocaPluginTest {

    @Test
    void isFoundByTheServiceLoaderWithThePapersTitle() {
        Plugin plugin = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("coca")).findFirst().orElseThrow();
        assertEquals(ModalignApi.VERSION, plugin.apiVersion());
        assertTrue(plugin.losses().get(0).description().contains("CoCa: Contrastive Captioners"));
        assertEquals("coca-captions", plugin.evaluators().get(0).name());
    }

    /** The words the evaluator writes come from hashing them as the text plugin's word tokenizer does. */
    @Test
    void wordIdsAreTheTextPluginsWordTokenizersIds() {
        Modality<TokenExample> text = new TextModality(new TextModality.Params(TextModality.TokenizerKind.WORD, 32,
                4096, true), TestContext.builder().build());
        String caption = "A red Frog, jumping over the café's 3 logs.";
        int[] ids = text.decode(caption, "test").ids();
        int[] ours = WordVocabulary.words(caption, true).stream().mapToInt(w -> WordVocabulary.id(w, 4096)).toArray();
        assertEquals(IntStream.of(ids).skip(1).boxed().toList(), IntStream.of(ours).boxed().toList());
        assertEquals(1, ids[0], "the captions start with CLS, the decoder's start id");
    }
}
