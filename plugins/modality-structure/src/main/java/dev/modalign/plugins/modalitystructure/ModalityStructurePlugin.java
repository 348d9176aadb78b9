package dev.modalign.plugins.modalitystructure;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/**
 * The three latent-structure regularisers of "Understanding and Constructing Latent Modality Structures in
 * Multi-modal Representation Learning" (Jiang et al., CVPR 2023), each a loss of its own to add beside a
 * contrastive one: intra-modal, inter-modal, and both.
 */
public final class ModalityStructurePlugin implements Plugin {

    private static final String PAPER = " (Jiang et al., Understanding and Constructing Latent Modality Structures"
            + " in Multi-modal Representation Learning, CVPR 2023)";

    static final ComponentFactory<DeepFeatureSeparationLoss.Params, Loss> DEEP_FEATURE_SEPARATION = ComponentFactory.of(
            "deep-feature-separation",
            "Intra-modal regulariser: keeps each tower's modality-specific features (a learned head) orthogonal to"
                    + " its shared embedding" + PAPER,
            DeepFeatureSeparationLoss.Params.class,
            DeepFeatureSeparationLoss::new);

    static final ComponentFactory<BrownianBridgeLoss.Params, Loss> BROWNIAN_BRIDGE = ComponentFactory.of(
            "brownian-bridge",
            "Inter-modal regulariser: an intermediate embedding should lie on the Brownian bridge from the image to"
                    + " the text at a random time t" + PAPER,
            BrownianBridgeLoss.Params.class,
            BrownianBridgeLoss::new);

    static final ComponentFactory<GeometricConsistencyLoss.Params, Loss> GEOMETRIC_CONSISTENCY = ComponentFactory.of(
            "geometric-consistency",
            "Intra- and inter-modal regulariser: image-image and text-text similarities should agree, and"
                    + " image-to-text with text-to-image" + PAPER,
            GeometricConsistencyLoss.Params.class,
            GeometricConsistencyLoss::new);

    @Override
    public String name() {
        return "modality-structure";
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
        return List.of(DEEP_FEATURE_SEPARATION, BROWNIAN_BRIDGE, GEOMETRIC_CONSISTENCY);
    }
}
