package dev.modalign.plugins.latentattention;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** NV-Embed's latent attention layer as the pooling of a transformer text encoder. */
public final class LatentAttentionPlugin implements Plugin {

    static final ComponentFactory<LatentAttentionEncoder.Params, Encoder> TRANSFORMER_LATENT_ATTENTION =
            ComponentFactory.of(
                    "transformer-latent-attention",
                    "Transformer text encoder pooled by latent attention: tokens attend to a trainable latent array,"
                            + " then an MLP and the mean over real tokens (Lee et al., NV-Embed: Improved Techniques"
                            + " for Training LLMs as Generalist Embedding Models, 2024)",
                    LatentAttentionEncoder.Params.class,
                    LatentAttentionEncoder::new);

    @Override
    public String name() {
        return "latent-attention";
    }

    @Override
    public String version() {
        return "0.1.0";
    }

    @Override
    public String apiVersion() {
        return ModalignApi.VERSION;
    }

    @Override
    public List<ComponentFactory<?, Encoder>> encoders() {
        return List.of(TRANSFORMER_LATENT_ATTENTION);
    }
}
