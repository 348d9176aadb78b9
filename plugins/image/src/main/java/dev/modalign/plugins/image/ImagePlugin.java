package dev.modalign.plugins.image;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Modality;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Images: decoding, resizing and normalisation, and the standard image augmentations. */
public final class ImagePlugin implements Plugin {

    @Override
    public String name() {
        return "image";
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
    public List<ComponentFactory<?, Modality<?>>> modalities() {
        return List.of(ComponentFactory.of("image",
                "Images (PNG, JPEG, BMP, GIF) resized to a square and normalised per channel.",
                ImageModality.Params.class, ImageModality::new));
    }

    @Override
    public List<ComponentFactory<?, Augmentation<?>>> augmentations() {
        return List.of(
                ComponentFactory.of("random-resized-crop",
                        "A random crop of random area and aspect ratio, resized back (Szegedy et al., 2015, 'Going deeper "
                                + "with convolutions').", RandomResizedCrop.Params.class, (p, c) -> new RandomResizedCrop(p)),
                ComponentFactory.of("horizontal-flip", "Mirrors the image left to right with probability p.",
                        HorizontalFlip.Params.class, (p, c) -> new HorizontalFlip(p)),
                ComponentFactory.of("color-jitter", "Random brightness, contrast and saturation changes (as in SimCLR).",
                        ColorJitter.Params.class, (p, c) -> new ColorJitter(p)));
    }
}
