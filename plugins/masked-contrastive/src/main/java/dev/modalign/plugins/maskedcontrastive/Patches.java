package dev.modalign.plugins.maskedcontrastive;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** Images cut into square patches, in the order of a cnn's token grid. */
final class Patches {

    private Patches() {}

    /**
     * [B, C, H, W] to [B, N, C p p]: patch n is row n / (W / p), column n % (W / p) of the grid (row-major, as a
     * cnn's [B, C, h, w] feature map flattens into tokens), its values channel-major, then rows, then columns.
     */
    static NDArray of(NDArray images, int patch) {
        Shape shape = images.getShape();
        long b = shape.get(0);
        long c = shape.get(1);
        long rows = shape.get(2) / patch;
        long columns = shape.get(3) / patch;
        if (rows * patch != shape.get(2) || columns * patch != shape.get(3)) {
            throw new IllegalArgumentException("images of " + shape + " do not divide into " + patch + "x" + patch
                    + " patches");
        }
        return images.reshape(b, c, rows, patch, columns, patch).transpose(0, 2, 4, 1, 3, 5)
                .reshape(b, rows * columns, c * patch * patch);
    }
}
