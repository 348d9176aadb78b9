package dev.modalign.plugins.sbcl;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Subclass-balancing contrastive learning: head classes split into tail-sized subclasses, contrasted at two levels. */
public final class SbclPlugin implements Plugin {

    static final ComponentFactory<SbclLoss.Params, Loss> SBCL = ComponentFactory.of(
            "sbcl",
            "Bi-granularity supervised contrastive loss over subclasses (head classes k-means-clustered online into"
                    + " tail-sized subclasses) and classes, over the views of all named towers (Hou et al.,"
                    + " Subclass-balancing Contrastive Learning for Long-tailed Recognition, ICCV 2023)",
            SbclLoss.Params.class,
            SbclLoss::new);

    @Override
    public String name() {
        return "sbcl";
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
        return List.of(SBCL);
    }
}
