package dev.modalign.plugins.timeseries;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.Random;

/**
 * Time warping (Um et al., "Data Augmentation of Wearable Sensor Data for Parkinson's Disease
 * Monitoring using Convolutional Neural Networks", 2017): the window is played back at a speed that
 * varies smoothly, faster in places and slower in others, and keeps its length. Speeds are drawn
 * from N(1, sigma^2) at {@code knots} + 2 points evenly spaced over the window (clipped to at least
 * 0.1, so time never runs backwards) and linearly interpolated between them (the paper uses a
 * cubic spline; linear speeds already make the warp's time map smooth, with a continuous
 * derivative); the time map, their running sum, is scaled to span the window, and the values are
 * read at it by linear interpolation. All channels share the warp. The result is the window alone.
 */
public final class TimeWarp implements Augmentation<SeriesExample> {

    /** The parameters of {@code time-warp}. */
    public record Params(
            @Doc("Standard deviation of the speed around 1 at each knot") @Default("0.2") double sigma,
            @Doc("Interior knots of the speed curve; more knots, more wiggly warps") @Default("4") int knots,
            @Doc("Probability of warping an example") @Default("1.0") double p) {

        public Params {
            if (!(sigma > 0) || !Double.isFinite(sigma)) {
                throw new InvalidParamException("sigma", "must be > 0, found " + sigma);
            }
            if (knots < 0 || knots > 1000) {
                throw new InvalidParamException("knots", "must be between 0 and 1000, found " + knots);
            }
            if (!(p >= 0 && p <= 1)) {
                throw new InvalidParamException("p", "must be between 0 and 1, found " + p);
            }
        }
    }

    private final Params params;

    public TimeWarp(Params params, ComponentContext context) {
        this.params = params;
    }

    @Override
    public Class<SeriesExample> exampleType() {
        return SeriesExample.class;
    }

    @Override
    public SeriesExample apply(SeriesExample example, Random rng) {
        if (rng.nextDouble() >= params.p()) {
            return example;
        }
        float[] values = example.realWindow();
        int channels = example.channels();
        int length = values.length / channels;
        int points = params.knots() + 2;
        double[] speeds = new double[points];
        for (int k = 0; k < points; k++) {
            speeds[k] = Math.max(0.1, 1 + params.sigma() * rng.nextGaussian());
        }
        if (length < 3) {
            return example.withValues(values);
        }
        double[] time = warp(speeds, length);
        float[] out = new float[values.length];
        for (int c = 0; c < channels; c++) {
            for (int t = 0; t < length; t++) {
                out[c * length + t] = interpolate(values, c * length, length, time[t]);
            }
        }
        return example.withValues(out);
    }

    /**
     * The warped read positions: time[0] = 0, time[length - 1] = length - 1, and the step from t to
     * t + 1 proportional to the speed at t, interpolated linearly between the knots.
     */
    static double[] warp(double[] speeds, int length) {
        int points = speeds.length;
        double[] time = new double[length];
        for (int t = 1; t < length; t++) {
            double at = (double) (t - 1) * (points - 1) / (length - 2);
            int k = Math.min(points - 2, (int) at);
            double f = at - k;
            time[t] = time[t - 1] + speeds[k] * (1 - f) + speeds[k + 1] * f;
        }
        double scale = (length - 1) / time[length - 1];
        for (int t = 0; t < length; t++) {
            time[t] *= scale;
        }
        time[length - 1] = length - 1;
        return time;
    }

    /** {@code values[offset + position]}, linearly interpolated between neighbours, clamped to [0, length - 1]. */
    static float interpolate(float[] values, int offset, int length, double position) {
        double clamped = Math.max(0, Math.min(length - 1, position));
        int low = (int) Math.floor(clamped);
        int high = Math.min(length - 1, low + 1);
        double f = clamped - low;
        return (float) (values[offset + low] * (1 - f) + values[offset + high] * f);
    }
}
