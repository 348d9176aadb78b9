package dev.modalign.plugins.encoders;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** General-purpose encoders: {@code mlp}, {@code cnn} and {@code transformer}. */
public final class EncodersPlugin implements Plugin {

    @Override
    public String name() {
        return "encoders";
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
        return List.of(MlpEncoder.FACTORY, CnnEncoder.FACTORY, TransformerEncoder.FACTORY);
    }
}
