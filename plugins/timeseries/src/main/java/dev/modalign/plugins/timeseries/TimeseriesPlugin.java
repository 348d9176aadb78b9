package dev.modalign.plugins.timeseries;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Modality;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Time series: CSV, JSON and array decoding, windowing and normalisation, and the standard series augmentations. */
public final class TimeseriesPlugin implements Plugin {

    static final ComponentFactory<TimeseriesModality.Params, Modality<?>> TIMESERIES = ComponentFactory.of(
            "timeseries",
            "Multichannel numeric series (CSV, JSON array, float[]) normalised per channel and windowed to a fixed"
                    + " length, zero-padded (with an optional mask)",
            TimeseriesModality.Params.class,
            TimeseriesModality::new);

    static final ComponentFactory<RandomWindow.Params, Augmentation<?>> RANDOM_WINDOW = ComponentFactory.of(
            "random-window",
            "A random window of a longer series instead of the fixed one (window cropping, Le Guennec et al., 2016)",
            RandomWindow.Params.class,
            RandomWindow::new);

    static final ComponentFactory<Jitter.Params, Augmentation<?>> JITTER = ComponentFactory.of(
            "jitter",
            "Gaussian noise on every value (Um et al., Data Augmentation of Wearable Sensor Data for Parkinson's"
                    + " Disease Monitoring using Convolutional Neural Networks, 2017)",
            Jitter.Params.class,
            Jitter::new);

    static final ComponentFactory<Scaling.Params, Augmentation<?>> SCALING = ComponentFactory.of(
            "scaling",
            "Each channel multiplied by a random factor around 1 (Um et al., 2017)",
            Scaling.Params.class,
            Scaling::new);

    static final ComponentFactory<WindowSlice.Params, Augmentation<?>> WINDOW_SLICE = ComponentFactory.of(
            "window-slice",
            "A random slice of the window stretched back to its length (Le Guennec et al., Data Augmentation for Time"
                    + " Series Classification using Convolutional Neural Networks, 2016)",
            WindowSlice.Params.class,
            WindowSlice::new);

    static final ComponentFactory<TimeWarp.Params, Augmentation<?>> TIME_WARP = ComponentFactory.of(
            "time-warp",
            "The window played back at a smoothly varying speed (Um et al., 2017)",
            TimeWarp.Params.class,
            TimeWarp::new);

    @Override
    public String name() {
        return "timeseries";
    }

    @Override
    public String version() {
        return "0.1.0";
    }

    @Override
    public String apiVersion() {
        return ModalignApi.VERSION;
    }

    @Override
    public List<ComponentFactory<?, Modality<?>>> modalities() {
        return List.of(TIMESERIES);
    }

    @Override
    public List<ComponentFactory<?, Augmentation<?>>> augmentations() {
        return List.of(RANDOM_WINDOW, JITTER, SCALING, WINDOW_SLICE, TIME_WARP);
    }
}
