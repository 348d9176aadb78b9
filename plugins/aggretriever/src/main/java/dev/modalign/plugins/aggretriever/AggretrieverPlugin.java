package dev.modalign.plugins.aggretriever;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Aggretriever: a text encoder whose embedding is agg* (aggregated lexical distributions) with the first token. */
public final class AggretrieverPlugin implements Plugin {

    static final ComponentFactory<AggretrieverEncoder.Params, Encoder> TRANSFORMER_AGG = ComponentFactory.of(
            "transformer-agg",
            "Transformer text encoder pooled as agg*, token-weighted vocabulary distributions max-pooled and folded,"
                    + " concatenated with the first token (Lin et al., Aggretriever: A Simple Approach to Aggregate"
                    + " Textual Representations for Robust Dense Passage Retrieval, TACL 2023)",
            AggretrieverEncoder.Params.class,
            AggretrieverEncoder::new);

    @Override
    public String name() {
        return "aggretriever";
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
        return List.of(TRANSFORMER_AGG);
    }
}
