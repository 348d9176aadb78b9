package dev.modalign.plugins.image;

import dev.modalign.api.Augmentation;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.ImageExample;
import dev.modalign.api.InvalidParamException;
import java.util.List;
import java.util.Random;

/**
 * Crops a random region of random area (a fraction of the image in {@code scale}) and aspect ratio
 * (log-uniform in {@code ratio}) and resizes it back to the input's size, as in "Going deeper with
 * convolutions" (Szegedy et al., 2015) and torchvision's RandomResizedCrop.
 */
public final class RandomResizedCrop implements Augmentation<ImageExample> {

    /** Parameters. */
    public record Params(
            @Doc("Range of the crop's area as a fraction of the image.") @Default("[0.5, 1.0]") List<Double> scale,
            @Doc("Range of the crop's aspect ratio (width / height).") @Default("[0.75, 1.3333333]") List<Double> ratio) {

        public Params {
            if (scale.size() != 2 || !(scale.get(0) > 0) || scale.get(0) > scale.get(1) || scale.get(1) > 1) {
                throw new InvalidParamException("scale", "is [low, high] with 0 < low <= high <= 1, found " + scale);
            }
            if (ratio.size() != 2 || !(ratio.get(0) > 0) || ratio.get(0) > ratio.get(1)) {
                throw new InvalidParamException("ratio", "is [low, high] with 0 < low <= high, found " + ratio);
            }
        }
    }

    private final Params params;

    public RandomResizedCrop(Params params) {
        this.params = params;
    }

    @Override
    public Class<ImageExample> exampleType() {
        return ImageExample.class;
    }

    @Override
    public ImageExample apply(ImageExample image, Random rng) {
        double area = (double) image.width() * image.height();
        double logLow = Math.log(params.ratio().get(0));
        double logHigh = Math.log(params.ratio().get(1));
        for (int attempt = 0; attempt < 10; attempt++) {
            double target = area * (params.scale().get(0) + rng.nextDouble() * (params.scale().get(1) - params.scale().get(0)));
            double aspect = Math.exp(logLow + rng.nextDouble() * (logHigh - logLow));
            double w = Math.sqrt(target * aspect);
            double h = Math.sqrt(target / aspect);
            if (w <= image.width() && h <= image.height()) {
                double x0 = rng.nextDouble() * (image.width() - w);
                double y0 = rng.nextDouble() * (image.height() - h);
                return Resampling.region(image, x0, y0, w, h, image.width(), image.height());
            }
        }
        // No crop fitted in ten tries (extreme ratios): the whole image, as torchvision falls back to.
        return Resampling.region(image, 0, 0, image.width(), image.height(), image.width(), image.height());
    }
}
