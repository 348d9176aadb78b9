package dev.modalign.plugins.image;

import dev.modalign.api.ImageExample;

/**
 * Resamples a region of an image with a triangle (bilinear) filter whose support widens with the
 * reduction factor, as Pillow's {@code Image.resize(..., BILINEAR)} does: enlarging is plain
 * bilinear interpolation between the four nearest pixel centres, and shrinking by a factor s
 * averages the source pixels within s pixels of the output pixel's centre, weighted by a tent, so
 * that fine detail (noise, thin lines, textures) is smoothed rather than aliased into stripes and
 * moiré. The filter is separable: rows first, then columns.
 *
 * <p>Coordinates are continuous pixel coordinates: pixel x covers [x, x + 1) and has its centre at
 * x + 0.5, so a region may start and end between pixels. Source pixels outside the image get no
 * weight and the remaining weights are renormalised, so borders do not darken.
 */
final class Resampling {

    private Resampling() {}

    /**
     * Resamples the region [x0, x0 + w) x [y0, y0 + h) of {@code image} (pixel coordinates, may be
     * fractional) to {@code outWidth} x {@code outHeight}. Values stay within the input's range: every
     * output value is a weighted mean of input values with non-negative weights.
     */
    static ImageExample region(ImageExample image, double x0, double y0, double w, double h, int outWidth, int outHeight) {
        int channels = image.channels();
        int inWidth = image.width();
        int inHeight = image.height();
        Taps columns = Taps.of(x0, w, inWidth, outWidth);
        Taps rows = Taps.of(y0, h, inHeight, outHeight);
        // Only the source rows some output row reads go through the horizontal pass.
        int firstRow = rows.start[0];
        int rowCount = rows.start[outHeight - 1] + rows.count[outHeight - 1] - firstRow;
        float[] in = image.pixels();
        float[] horizontal = new float[channels * rowCount * outWidth];
        for (int c = 0; c < channels; c++) {
            for (int r = 0; r < rowCount; r++) {
                int source = (c * inHeight + firstRow + r) * inWidth;
                int target = (c * rowCount + r) * outWidth;
                for (int x = 0; x < outWidth; x++) {
                    double sum = 0;
                    int start = columns.start[x];
                    int taps = x * columns.stride;
                    for (int k = 0; k < columns.count[x]; k++) {
                        sum += in[source + start + k] * columns.weights[taps + k];
                    }
                    horizontal[target + x] = (float) sum;
                }
            }
        }
        float[] out = new float[channels * outHeight * outWidth];
        for (int c = 0; c < channels; c++) {
            for (int y = 0; y < outHeight; y++) {
                int start = rows.start[y] - firstRow;
                int taps = y * rows.stride;
                int target = (c * outHeight + y) * outWidth;
                for (int x = 0; x < outWidth; x++) {
                    double sum = 0;
                    for (int k = 0; k < rows.count[y]; k++) {
                        sum += horizontal[(c * rowCount + start + k) * outWidth + x] * rows.weights[taps + k];
                    }
                    // Rounding can step a hair outside [0, 1]; the example's contract is [0, 1].
                    out[target + x] = (float) Math.max(0, Math.min(1, sum));
                }
            }
        }
        return new ImageExample(out, channels, outHeight, outWidth);
    }

    /**
     * The source pixels and weights of each output pixel along one axis: output i reads source
     * pixels start[i] .. start[i] + count[i] - 1 with weights[i * stride + k], which sum to 1.
     */
    private record Taps(int[] start, int[] count, double[] weights, int stride) {

        static Taps of(double regionStart, double regionLength, int inLength, int outLength) {
            double scale = regionLength / outLength;
            // Shrinking by s stretches the tent to a half-width of s source pixels (Pillow's filterscale).
            double filterScale = Math.max(scale, 1.0);
            double support = filterScale;
            int stride = (int) Math.ceil(support) * 2 + 1;
            int[] start = new int[outLength];
            int[] count = new int[outLength];
            double[] weights = new double[outLength * stride];
            for (int i = 0; i < outLength; i++) {
                double centre = regionStart + (i + 0.5) * scale;
                int first = Math.max((int) Math.floor(centre - support + 0.5), 0);
                int end = Math.min((int) Math.floor(centre + support + 0.5), inLength);
                if (end <= first) {
                    // A region reaching past the image: the nearest edge pixel.
                    first = Math.min(Math.max(first, 0), inLength - 1);
                    end = first + 1;
                }
                double total = 0;
                for (int k = 0; k < end - first; k++) {
                    double distance = (first + k + 0.5 - centre) / filterScale;
                    double weight = Math.max(0, 1 - Math.abs(distance));
                    weights[i * stride + k] = weight;
                    total += weight;
                }
                if (total == 0) {
                    weights[i * stride] = 1;
                    total = 1;
                }
                for (int k = 0; k < end - first; k++) {
                    weights[i * stride + k] /= total;
                }
                start[i] = first;
                count[i] = end - first;
            }
            return new Taps(start, count, weights, stride);
        }
    }
}
