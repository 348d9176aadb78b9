package dev.modalign.plugins.audio;

/**
 * How one PCM sample is stored: integer samples are scaled to [-1, 1) by 2^(bits - 1) (8-bit is
 * unsigned with its zero at 128, as WAV stores it), floats are taken as they are.
 */
public enum PcmEncoding {
    /** Unsigned 8-bit, zero at 128 (WAV's 8-bit PCM). */
    U8(1),
    /** Signed 8-bit. */
    S8(1),
    /** Signed 16-bit little-endian (WAV's usual PCM, and what {@code ffmpeg -f s16le} writes). */
    S16LE(2),
    /** Signed 16-bit big-endian (AIFF's and network byte order). */
    S16BE(2),
    /** Signed 24-bit little-endian, packed in three bytes. */
    S24LE(3),
    /** Signed 32-bit little-endian. */
    S32LE(4),
    /** IEEE 754 32-bit float little-endian. */
    F32LE(4),
    /** IEEE 754 64-bit float little-endian. */
    F64LE(8);

    private final int bytes;

    PcmEncoding(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per sample of one channel. */
    int bytes() {
        return bytes;
    }

    /** The sample at {@code data[at ..]}, scaled to [-1, 1) for integers. */
    double sample(byte[] data, int at) {
        return switch (this) {
            case U8 -> ((data[at] & 0xFF) - 128) / 128.0;
            case S8 -> data[at] / 128.0;
            case S16LE -> (short) ((data[at] & 0xFF) | (data[at + 1] << 8)) / 32768.0;
            case S16BE -> (short) ((data[at + 1] & 0xFF) | (data[at] << 8)) / 32768.0;
            case S24LE -> ((data[at] & 0xFF) | ((data[at + 1] & 0xFF) << 8) | (data[at + 2] << 16)) / 8388608.0;
            case S32LE -> int32(data, at) / 2147483648.0;
            case F32LE -> Float.intBitsToFloat(int32(data, at));
            case F64LE -> Double.longBitsToDouble((int32(data, at) & 0xFFFFFFFFL) | ((long) int32(data, at + 4) << 32));
        };
    }

    private static int int32(byte[] data, int at) {
        return (data[at] & 0xFF) | ((data[at + 1] & 0xFF) << 8) | ((data[at + 2] & 0xFF) << 16) | (data[at + 3] << 24);
    }

    /**
     * Decodes {@code frames} interleaved frames of {@code channels} samples from {@code data[offset
     * ..)} and mixes each frame to mono by averaging its channels.
     */
    float[] decodeMono(byte[] data, int offset, int frames, int channels) {
        float[] mono = new float[frames];
        int frameBytes = bytes * channels;
        for (int f = 0; f < frames; f++) {
            int at = offset + f * frameBytes;
            double sum = 0;
            for (int c = 0; c < channels; c++) {
                sum += sample(data, at + c * bytes);
            }
            mono[f] = (float) (sum / channels);
        }
        return mono;
    }
}
