package dev.modalign.plugins.clap;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Encoder;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** CLAP: feature fusion for variable-length audio (an encoder) and keyword-to-caption augmentation (a source). */
public final class ClapPlugin implements Plugin {

    static final ComponentFactory<ClapFusionEncoder.Params, Encoder> CLAP_FUSION = ComponentFactory.of(
            "clap-fusion",
            "Audio CNN with feature fusion for variable-length clips: the whole clip resized (global) fused with"
                    + " front, middle and back windows (local) by attentional feature fusion (Wu et al., Large-scale"
                    + " Contrastive Language-Audio Pretraining with Feature Fusion and Keyword-to-Caption Augmentation,"
                    + " ICASSP 2023)",
            ClapFusionEncoder.Params.class,
            ClapFusionEncoder::new);

    static final ComponentFactory<KeywordCaptionSource.Params, DatasetSource> KEYWORD_CAPTIONS = ComponentFactory.of(
            "keyword-captions",
            "Manifest records with a caption written from their keywords by templates, CLAP's keyword-to-caption"
                    + " augmentation (Wu et al., Large-scale Contrastive Language-Audio Pretraining with Feature Fusion"
                    + " and Keyword-to-Caption Augmentation, ICASSP 2023)",
            KeywordCaptionSource.Params.class,
            KeywordCaptionSource::new);

    @Override
    public String name() {
        return "clap";
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
        return List.of(CLAP_FUSION);
    }

    @Override
    public List<ComponentFactory<?, DatasetSource>> datasetSources() {
        return List.of(KEYWORD_CAPTIONS);
    }
}
