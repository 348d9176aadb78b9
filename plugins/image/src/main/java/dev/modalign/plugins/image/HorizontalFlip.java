package dev.modalign.plugins.image;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.ImageExample;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Mirrors the image left to right with probability p. Beware of data whose text names left and
 * right (the quickstart's shapes do): there it makes captions false.
 */
public final class HorizontalFlip implements Augmentation<ImageExample> {

    /** Parameters. */
    public record Params(@Doc("Probability of flipping.") @Default("0.5") double p) {
        public Params {
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "is a probability in [0, 1], found " + p);
            }
        }
    }

    private final double p;

    public HorizontalFlip(Params params, ComponentContext context) {
        this.p = params.p();
    }

    @Override
    public Class<ImageExample> exampleType() {
        return ImageExample.class;
    }

    @Override
    public ImageExample apply(ImageExample image, Random rng) {
        if (rng.nextDouble() >= p) {
            return image;
        }
        return flip(image);
    }

    static ImageExample flip(ImageExample image) {
        int w = image.width();
        float[] in = image.pixels();
        float[] out = new float[in.length];
        for (int row = 0; row < image.channels() * image.height(); row++) {
            for (int x = 0; x < w; x++) {
                out[row * w + x] = in[row * w + (w - 1 - x)];
            }
        }
        return new ImageExample(out, image.channels(), image.height(), w);
    }
}
