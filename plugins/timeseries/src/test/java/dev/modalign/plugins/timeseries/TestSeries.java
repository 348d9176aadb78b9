package dev.modalign.plugins.timeseries;

import dev.modalign.plugins.timeseries.TimeseriesModality.ArrayLayout;
import dev.modalign.plugins.timeseries.TimeseriesModality.Delimiter;
import dev.modalign.plugins.timeseries.TimeseriesModality.Layout;
import dev.modalign.plugins.timeseries.TimeseriesModality.Normalise;
import dev.modalign.plugins.timeseries.TimeseriesModality.Params;
import dev.modalign.plugins.timeseries.TimeseriesModality.Position;
import dev.modalign.testkit.TestContext;

/** Series the augmentation tests start from, decoded by a modality without normalisation. */
final class TestSeries {

    private TestSeries() {}

    /** Two channels of {@code length} steps, channel 0 = t and channel 1 = -2 t, in a window of {@code window} steps. */
    static SeriesExample ramps(int length, int window, int stride) {
        float[] channelMajor = new float[2 * length];
        for (int t = 0; t < length; t++) {
            channelMajor[t] = t;
            channelMajor[length + t] = -2 * t;
        }
        Params params = new Params(2, window, stride, Position.START, Normalise.NONE, null, null, Layout.FLAT, null,
                Delimiter.AUTO, null, ArrayLayout.CHANNEL_MAJOR, false);
        return new TimeseriesModality(params, TestContext.builder().build()).decode(channelMajor, "ramps");
    }
}
