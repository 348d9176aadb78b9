package dev.modalign.plugins.maskedcontrastive;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/**
 * Masked modelling beside contrast on the same tower, after SSAST ("SSAST: Self-Supervised Audio Spectrogram
 * Transformer", Gong et al., AAAI 2022): a patch-masking augmentation, a parameter-free tower that gives the
 * unmasked patches as targets, and the joint patch-level InfoNCE and reconstruction loss.
 */
public final class MaskedContrastivePlugin implements Plugin {

    private static final String PAPER = "Gong et al., SSAST: Self-Supervised Audio Spectrogram Transformer, AAAI 2022";

    static final ComponentFactory<MaskedPatchLoss.Params, Loss> MASKED_PATCH = ComponentFactory.of(
            "masked-patch",
            "Masked patch modelling: each masked patch's prediction must pick its own patch among the image's masked"
                    + " patches (InfoNCE) and reconstruct it (MSE), beside a contrastive loss (" + PAPER + ")",
            MaskedPatchLoss.Params.class,
            MaskedPatchLoss::new);

    static final ComponentFactory<PatchMask.Params, Augmentation<?>> PATCH_MASK = ComponentFactory.of(
            "patch-mask",
            "Masks round(ratio * N) random square patches of an image with a fill outside [0, 1] (" + PAPER + ")",
            PatchMask.Params.class,
            PatchMask::new);

    static final ComponentFactory<ImagePatchesEncoder.Params, Encoder> IMAGE_PATCHES = ComponentFactory.of(
            "image-patches",
            "No parameters: an image's patches as tokens and their mean as its embedding; the target tower of"
                    + " masked-patch (" + PAPER + ")",
            ImagePatchesEncoder.Params.class,
            ImagePatchesEncoder::new);

    @Override
    public String name() {
        return "masked-contrastive";
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
        return List.of(MASKED_PATCH);
    }

    @Override
    public List<ComponentFactory<?, Augmentation<?>>> augmentations() {
        return List.of(PATCH_MASK);
    }

    @Override
    public List<ComponentFactory<?, Encoder>> encoders() {
        return List.of(IMAGE_PATCHES);
    }
}
