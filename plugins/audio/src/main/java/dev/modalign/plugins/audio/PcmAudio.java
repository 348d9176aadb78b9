package dev.modalign.plugins.audio;

/**
 * Decoded audio before resampling: mono samples at the file's own rate.
 *
 * @param samples the first frames of the recording mixed to mono, in [-1, 1] for integer PCM
 * @param sampleRate the recording's sample rate, in Hz
 * @param totalFrames how many frames the recording holds in all (at least {@code samples.length})
 */
record PcmAudio(float[] samples, int sampleRate, long totalFrames) {}
