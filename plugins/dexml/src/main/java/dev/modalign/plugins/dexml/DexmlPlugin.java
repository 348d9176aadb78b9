package dev.modalign.plugins.dexml;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** DEXML's DecoupledSoftmax: a query's other positives leave the softmax's denominator. */
public final class DexmlPlugin implements Plugin {

    static final ComponentFactory<DexmlLoss.Params, Loss> DEXML = ComponentFactory.of(
            "dexml",
            "DecoupledSoftmax over the in-batch pairs of two towers: rows sharing a group id (or label) are all"
                    + " positives, and a query's other positives leave the denominator (Gupta et al., Dual-Encoders"
                    + " for Extreme Multi-Label Classification, ICLR 2024)",
            DexmlLoss.Params.class,
            DexmlLoss::new);

    @Override
    public String name() {
        return "dexml";
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
    public List<ComponentFactory<?, Loss>> losses() {
        return List.of(DEXML);
    }
}
