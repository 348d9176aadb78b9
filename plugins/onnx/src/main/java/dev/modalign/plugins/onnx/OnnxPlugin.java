package dev.modalign.plugins.onnx;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Pretrained encoders from ONNX files, run frozen with ONNX Runtime. */
public final class OnnxPlugin implements Plugin {

    @Override
    public String name() {
        return "onnx";
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
        return List.of(OnnxTextEncoder.FACTORY);
    }
}
