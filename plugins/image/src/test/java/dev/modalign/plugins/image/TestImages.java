package dev.modalign.plugins.image;

import dev.modalign.api.ImageExample;

/** Small images built in memory for the augmentation tests. */
final class TestImages {

    private TestImages() {}

    /** A 3-channel image whose values differ everywhere: a horizontal ramp, scaled per channel. */
    static ImageExample gradient(int height, int width) {
        float[] pixels = new float[3 * height * width];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    pixels[(c * height + y) * width + x] = (x + width * y) / (float) (width * height) * (c + 1) / 3f;
                }
            }
        }
        return new ImageExample(pixels, 3, height, width);
    }

    /** A 3-channel image whose value is x / (width - 1) in every channel and row. */
    static ImageExample horizontalRamp(int height, int width) {
        float[] pixels = new float[3 * height * width];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (i % width) / (float) (width - 1);
        }
        return new ImageExample(pixels, 3, height, width);
    }

    /** Every pixel the same colour. */
    static ImageExample uniform(int height, int width, float... colour) {
        int plane = height * width;
        float[] pixels = new float[colour.length * plane];
        for (int c = 0; c < colour.length; c++) {
            java.util.Arrays.fill(pixels, c * plane, (c + 1) * plane, colour[c]);
        }
        return new ImageExample(pixels, colour.length, height, width);
    }
}
