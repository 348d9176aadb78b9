package dev.modalign.plugins.image;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
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

    /**
     * @param scale the range of the crop's area, as a fraction of the image's
     * @param ratio the range of the crop's aspect ratio, width / height, drawn log-uniformly
     */
    public record Params(
            @Doc("Range [low, high] of the crop's area as a fraction of the image's, 0 < low <= high <= 1")
            @Default("[0.5, 1.0]") List<Double> scale,
            @Doc("Range [low, high] of the crop's aspect ratio (width / height), drawn log-uniformly")
            @Default("[0.75, 1.3333333]") List<Double> ratio) {

        public Params {
            if (!isRange(scale) || !(scale.get(0) > 0) || scale.get(1) > 1) {
                throw new InvalidParamException("scale", "must be [low, high] with 0 < low <= high <= 1, found " + scale
                        + "; e.g. [0.5, 1.0]");
            }
            if (!isRange(ratio) || !(ratio.get(0) > 0) || !Double.isFinite(ratio.get(1))) {
                throw new InvalidParamException("ratio", "must be [low, high] with 0 < low <= high, found " + ratio
                        + "; e.g. [0.75, 1.3333333]");
            }
        }

        private static boolean isRange(List<Double> range) {
            return range != null && range.size() == 2 && range.stream().allMatch(v -> v != null && Double.isFinite(v))
                    && range.get(0) <= range.get(1);
        }
    }

    private final Params params;

    public RandomResizedCrop(Params params, ComponentContext context) {
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
        // No crop fitted in ten tries: the centre crop torchvision falls back to, the whole image when its
        // aspect ratio is within the range, else the largest centred crop at the nearest allowed ratio.
        double imageRatio = (double) image.width() / image.height();
        double w = image.width();
        double h = image.height();
        if (imageRatio < params.ratio().get(0)) {
            h = w / params.ratio().get(0);
        } else if (imageRatio > params.ratio().get(1)) {
            w = h * params.ratio().get(1);
        }
        return Resampling.region(image, (image.width() - w) / 2, (image.height() - h) / 2, w, h, image.width(),
                image.height());
    }
}
