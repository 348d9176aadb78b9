package dev.modalign.plugins.audio;

/** How a clip shorter than the window is filled up to it. */
public enum PadMode {
    /** Silence after the clip. */
    ZERO,
    /**
     * The clip repeated until the window is full (the "repeatpad" of Wu et al., "Large-Scale
     * Contrastive Language-Audio Pretraining with Feature Fusion and Keyword-to-Caption
     * Augmentation", 2023), so that short clips carry no long silence.
     */
    REPEAT
}
