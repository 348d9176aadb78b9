package dev.modalign.plugins.image;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.ImageExample;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Random brightness, contrast and saturation, each a factor drawn from [1 - strength, 1 + strength],
 * applied with probability p; the colour distortion of "A Simple Framework for Contrastive Learning
 * of Visual Representations" (Chen et al., 2020, appendix A), without hue. Grey images get
 * brightness and contrast only. Values are clamped to [0, 1].
 */
public final class ColorJitter implements Augmentation<ImageExample> {

    /** Parameters. */
    public record Params(
            @Doc("How far each factor may stray from 1.") @Default("0.4") double strength,
            @Doc("Probability of jittering an image at all.") @Default("0.8") double p) {

        public Params {
            if (!(strength >= 0 && strength < 1)) {
                throw new InvalidParamException("strength", "is in [0, 1), found " + strength);
            }
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "is a probability in [0, 1], found " + p);
            }
        }
    }

    private final Params params;

    public ColorJitter(Params params, ComponentContext context) {
        this.params = params;
    }

    @Override
    public Class<ImageExample> exampleType() {
        return ImageExample.class;
    }

    @Override
    public ImageExample apply(ImageExample image, Random rng) {
        if (rng.nextDouble() >= params.p()) {
            return image;
        }
        double s = params.strength();
        float brightness = (float) (1 - s + 2 * s * rng.nextDouble());
        float contrast = (float) (1 - s + 2 * s * rng.nextDouble());
        float saturation = (float) (1 - s + 2 * s * rng.nextDouble());
        int plane = image.width() * image.height();
        int c = image.channels();
        float[] out = image.pixels().clone();
        for (int i = 0; i < out.length; i++) {
            out[i] *= brightness;
        }
        double meanGrey = 0;
        for (int i = 0; i < plane; i++) {
            meanGrey += grey(out, i, plane, c);
        }
        float mean = (float) (meanGrey / plane);
        for (int i = 0; i < out.length; i++) {
            out[i] = (out[i] - mean) * contrast + mean;
        }
        if (c == 3) {
            for (int i = 0; i < plane; i++) {
                float g = grey(out, i, plane, c);
                for (int k = 0; k < 3; k++) {
                    out[k * plane + i] = (out[k * plane + i] - g) * saturation + g;
                }
            }
        }
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.max(0f, Math.min(1f, out[i]));
        }
        return new ImageExample(out, c, image.height(), image.width());
    }

    private static float grey(float[] pixels, int i, int plane, int channels) {
        if (channels == 1) {
            return pixels[i];
        }
        return 0.299f * pixels[i] + 0.587f * pixels[plane + i] + 0.114f * pixels[2 * plane + i];
    }
}
