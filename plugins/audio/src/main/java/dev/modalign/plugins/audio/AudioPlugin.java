package dev.modalign.plugins.audio;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Modality;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Audio: WAV and raw PCM decoding, resampling, log-mel spectrograms, and waveform and spectrogram augmentations. */
public final class AudioPlugin implements Plugin {

    static final ComponentFactory<AudioModality.Params, Modality<?>> AUDIO = ComponentFactory.of(
            "audio",
            "Audio clips (WAV, raw PCM) resampled with a windowed-sinc filter, cropped or padded to a fixed length and"
                    + " turned into log-mel spectrograms (Slaney mel scale, as librosa)",
            AudioModality.Params.class,
            AudioModality::new);

    static final ComponentFactory<RandomSegment.Params, Augmentation<?>> RANDOM_SEGMENT = ComponentFactory.of(
            "random-segment",
            "A random max_seconds segment of a longer clip instead of its head (the random crop of CLAP, Wu et al.,"
                    + " Large-Scale Contrastive Language-Audio Pretraining, 2023)",
            RandomSegment.Params.class,
            RandomSegment::new);

    static final ComponentFactory<TimeShift.Params, Augmentation<?>> TIME_SHIFT = ComponentFactory.of(
            "time-shift",
            "Shifts the waveform in time by a random amount, rolled around or filled with silence",
            TimeShift.Params.class,
            TimeShift::new);

    static final ComponentFactory<Gain.Params, Augmentation<?>> GAIN = ComponentFactory.of(
            "gain",
            "Scales the waveform by a random gain in decibels",
            Gain.Params.class,
            Gain::new);

    static final ComponentFactory<SpecAugment.Params, Augmentation<?>> SPEC_AUGMENT = ComponentFactory.of(
            "spec-augment",
            "Time and frequency masks on the log-mel spectrogram (Park et al., SpecAugment: A Simple Data Augmentation"
                    + " Method for Automatic Speech Recognition, 2019)",
            SpecAugment.Params.class,
            SpecAugment::new);

    @Override
    public String name() {
        return "audio";
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
        return List.of(AUDIO);
    }

    @Override
    public List<ComponentFactory<?, Augmentation<?>>> augmentations() {
        return List.of(RANDOM_SEGMENT, TIME_SHIFT, GAIN, SPEC_AUGMENT);
    }
}
