package dev.modalign.api;

/**
 * One decoded image: channel-major floats in [0, 1], {@code pixels[c * height * width + y * width +
 * x]}. Treated as immutable once built: augmentations return a new example.
 */
public record ImageExample(float[] pixels, int channels, int height, int width) {
    public ImageExample {
        if (pixels.length != channels * height * width) {
            throw new IllegalArgumentException("pixels has " + pixels.length + " values, expected "
                    + channels + "x" + height + "x" + width);
        }
    }
}
