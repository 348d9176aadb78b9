package dev.modalign.plugins.image;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Modality;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Images: decoding, resizing and normalisation, and the standard image augmentations. */
public final class ImagePlugin implements Plugin {

    static final ComponentFactory<ImageModality.Params, Modality<?>> IMAGE = ComponentFactory.of(
            "image",
            "Images (PNG, JPEG, BMP, GIF) centre-cropped, resized to a square with antialiased bilinear"
                    + " resampling and normalised per channel",
            ImageModality.Params.class,
            ImageModality::new);

    static final ComponentFactory<RandomResizedCrop.Params, Augmentation<?>> RANDOM_RESIZED_CROP = ComponentFactory.of(
            "random-resized-crop",
            "A crop of random area and aspect ratio resized back to the image's size (Szegedy et al., Going Deeper"
                    + " with Convolutions, 2015)",
            RandomResizedCrop.Params.class,
            RandomResizedCrop::new);

    static final ComponentFactory<HorizontalFlip.Params, Augmentation<?>> HORIZONTAL_FLIP = ComponentFactory.of(
            "horizontal-flip",
            "Mirrors the image left to right with probability p",
            HorizontalFlip.Params.class,
            HorizontalFlip::new);

    static final ComponentFactory<ColorJitter.Params, Augmentation<?>> COLOR_JITTER = ComponentFactory.of(
            "color-jitter",
            "Random brightness, contrast and saturation (the colour distortion of Chen et al., A Simple Framework"
                    + " for Contrastive Learning of Visual Representations, 2020)",
            ColorJitter.Params.class,
            ColorJitter::new);

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
        return List.of(IMAGE);
    }

    @Override
    public List<ComponentFactory<?, Augmentation<?>>> augmentations() {
        return List.of(RANDOM_RESIZED_CROP, HORIZONTAL_FLIP, COLOR_JITTER);
    }
}
