package dev.modalign.plugins.maskedcontrastive;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.ImageExample;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Masks a share of an image's square patches, as SSAST masks spectrogram patches ("SSAST: Self-Supervised Audio
 * Spectrogram Transformer", Gong et al., AAAI 2022, section 2.2): with probability {@code p}, exactly {@code
 * round(ratio * N)} of the N patches, drawn without replacement, every pixel of every channel set to {@code fill}.
 *
 * <p>The fill is outside [0, 1], where an image's pixels lie, so the mask travels in the example itself: the
 * {@code masked-patch} loss finds the masked patches in the tower's input (every value of a patch below its
 * {@code mask_below}) without a side channel, and the encoder sees no trace of what was there. The unmasked
 * targets come from a second tower reading the same field without this augmentation.
 */
public final class PatchMask implements Augmentation<ImageExample> {

    /** The augmentation's YAML keys. */
    public record Params(
            @Doc("Side of a square patch in pixels; the image's side must be a multiple. Match the encoder's token"
                    + " grid: the cnn's tokens are 4 x 4 pixel cells at 32 px with three stages") @Default("4") int patch,
            @Doc("Share of the patches to mask, exactly round(ratio * patches)") @Default("0.5") double ratio,
            @Doc("The value every masked pixel takes; outside [0, 1] so that the loss can tell masked patches")
                    @Default("-1.0") double fill,
            @Doc("Probability that an image is masked at all; the others pass unmasked, so the tower also sees whole"
                    + " images, as it will at evaluation") @Default("1.0") double p) {
        public Params {
            if (patch <= 0) {
                throw new InvalidParamException("patch", "must be > 0, found " + patch);
            }
            if (!(ratio >= 0 && ratio <= 1)) {
                throw new InvalidParamException("ratio", "is a share in [0, 1], found " + ratio);
            }
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "is a probability in [0, 1], found " + p);
            }
            if (fill >= 0 && fill <= 1 || !Double.isFinite(fill)) {
                throw new InvalidParamException("fill", "must be a finite value outside [0, 1] (pixels lie in it, and"
                        + " the loss tells masked patches by it), found " + fill);
            }
        }
    }

    private final Params params;

    PatchMask(Params params, ComponentContext context) {
        this.params = params;
    }

    @Override
    public Class<ImageExample> exampleType() {
        return ImageExample.class;
    }

    @Override
    public ImageExample apply(ImageExample example, Random rng) {
        if (rng.nextDouble() >= params.p()) {
            return example;
        }
        int p = params.patch();
        if (example.height() % p != 0 || example.width() % p != 0) {
            throw new IllegalArgumentException("patch-mask: a " + example.height() + "x" + example.width()
                    + " image does not divide into " + p + "x" + p + " patches; choose a patch that divides its size");
        }
        int rows = example.height() / p;
        int columns = example.width() / p;
        int patches = rows * columns;
        int masked = (int) Math.round(params.ratio() * patches);
        // A partial Fisher-Yates shuffle: the first `masked` entries are a uniform draw without replacement.
        int[] order = new int[patches];
        for (int i = 0; i < patches; i++) {
            order[i] = i;
        }
        for (int i = 0; i < masked; i++) {
            int j = i + rng.nextInt(patches - i);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        float[] pixels = example.pixels().clone();
        float fill = (float) params.fill();
        int plane = example.height() * example.width();
        for (int i = 0; i < masked; i++) {
            int top = order[i] / columns * p;
            int left = order[i] % columns * p;
            for (int c = 0; c < example.channels(); c++) {
                for (int y = top; y < top + p; y++) {
                    for (int x = left; x < left + p; x++) {
                        pixels[c * plane + y * example.width() + x] = fill;
                    }
                }
            }
        }
        return new ImageExample(pixels, example.channels(), example.height(), example.width());
    }
}
