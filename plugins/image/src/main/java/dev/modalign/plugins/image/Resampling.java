package dev.modalign.plugins.image;

import dev.modalign.api.ImageExample;

/** Bilinear resampling of a region of an image, with box pre-filtering when shrinking a lot. */
final class Resampling {

    private Resampling() {}

    /**
     * Resamples the region [x0, x0 + w) x [y0, y0 + h) of {@code image} (pixel coordinates, may be
     * fractional) to {@code outWidth} x {@code outHeight}.
     */
    static ImageExample region(ImageExample image, double x0, double y0, double w, double h, int outWidth, int outHeight) {
        // Halve the source while the region is more than twice the output, so bilinear sampling does not alias.
        while (w / outWidth > 2 && h / outHeight > 2 && image.width() >= 2 && image.height() >= 2) {
            image = halve(image);
            x0 /= 2;
            y0 /= 2;
            w /= 2;
            h /= 2;
        }
        int c = image.channels();
        float[] out = new float[c * outWidth * outHeight];
        double sx = w / outWidth;
        double sy = h / outHeight;
        for (int y = 0; y < outHeight; y++) {
            double fy = clamp(y0 + (y + 0.5) * sy - 0.5, 0, image.height() - 1);
            int yLow = (int) Math.floor(fy);
            int yHigh = Math.min(yLow + 1, image.height() - 1);
            double dy = fy - yLow;
            for (int x = 0; x < outWidth; x++) {
                double fx = clamp(x0 + (x + 0.5) * sx - 0.5, 0, image.width() - 1);
                int xLow = (int) Math.floor(fx);
                int xHigh = Math.min(xLow + 1, image.width() - 1);
                double dx = fx - xLow;
                for (int k = 0; k < c; k++) {
                    double top = at(image, k, yLow, xLow) * (1 - dx) + at(image, k, yLow, xHigh) * dx;
                    double bottom = at(image, k, yHigh, xLow) * (1 - dx) + at(image, k, yHigh, xHigh) * dx;
                    out[(k * outHeight + y) * outWidth + x] = (float) (top * (1 - dy) + bottom * dy);
                }
            }
        }
        return new ImageExample(out, c, outHeight, outWidth);
    }

    private static ImageExample halve(ImageExample image) {
        int w = image.width() / 2;
        int h = image.height() / 2;
        int c = image.channels();
        float[] out = new float[c * w * h];
        for (int k = 0; k < c; k++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    out[(k * h + y) * w + x] = (at(image, k, 2 * y, 2 * x) + at(image, k, 2 * y, 2 * x + 1)
                            + at(image, k, 2 * y + 1, 2 * x) + at(image, k, 2 * y + 1, 2 * x + 1)) / 4;
                }
            }
        }
        return new ImageExample(out, c, h, w);
    }

    static float at(ImageExample image, int channel, int y, int x) {
        return image.pixels()[(channel * image.height() + y) * image.width() + x];
    }

    private static double clamp(double value, double low, double high) {
        return Math.max(low, Math.min(high, value));
    }
}
