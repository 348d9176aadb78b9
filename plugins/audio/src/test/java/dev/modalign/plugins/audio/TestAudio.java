package dev.modalign.plugins.audio;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Signals and WAV files written by the tests themselves, so nothing is downloaded. */
final class TestAudio {

    private TestAudio() {}

    /** amplitude * sin(2 pi f n / rate + phase) for n in [0, samples). */
    static float[] sine(double frequency, int rate, int samples, double amplitude, double phase) {
        float[] out = new float[samples];
        for (int n = 0; n < samples; n++) {
            out[n] = (float) (amplitude * Math.sin(2 * Math.PI * frequency * n / rate + phase));
        }
        return out;
    }

    static float[] sine(double frequency, int rate, int samples) {
        return sine(frequency, rate, samples, 0.5, 0);
    }

    /**
     * A WAV file of the channels given (each channel's samples in [-1, 1]), PCM integers of {@code bits}
     * bits (8 is unsigned) or IEEE floats when {@code floats}, optionally wrapped in
     * WAVE_FORMAT_EXTENSIBLE and with a LIST chunk before the data, as many writers add.
     */
    static byte[] wav(float[][] channels, int rate, int bits, boolean floats, boolean extensible, boolean listChunk) {
        int frames = channels[0].length;
        int bytesPerSample = bits / 8;
        int blockAlign = bytesPerSample * channels.length;
        ByteBuffer data = ByteBuffer.allocate(frames * blockAlign).order(ByteOrder.LITTLE_ENDIAN);
        for (int f = 0; f < frames; f++) {
            for (float[] channel : channels) {
                double x = channel[f];
                if (floats && bits == 32) {
                    data.putFloat((float) x);
                } else if (floats) {
                    data.putDouble(x);
                } else if (bits == 8) {
                    data.put((byte) (clamp(Math.round(x * 128) + 128, 0, 255)));
                } else if (bits == 16) {
                    data.putShort((short) clamp(Math.round(x * 32768), -32768, 32767));
                } else if (bits == 24) {
                    int v = (int) clamp(Math.round(x * 8388608), -8388608, 8388607);
                    data.put((byte) v).put((byte) (v >> 8)).put((byte) (v >> 16));
                } else {
                    data.putInt((int) clamp(Math.round(x * 2147483648.0), Integer.MIN_VALUE, Integer.MAX_VALUE));
                }
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer fmt = ByteBuffer.allocate(extensible ? 40 : 16).order(ByteOrder.LITTLE_ENDIAN);
        int code = floats ? 3 : 1;
        fmt.putShort((short) (extensible ? 0xFFFE : code)).putShort((short) channels.length).putInt(rate)
                .putInt(rate * blockAlign).putShort((short) blockAlign).putShort((short) bits);
        if (extensible) {
            fmt.putShort((short) 22).putShort((short) bits).putInt(0).putShort((short) code)
                    .put(new byte[] {0, 0, 0, 0, 0x10, 0, (byte) 0x80, 0, 0, (byte) 0xAA, 0, 0x38, (byte) 0x9B, 0x71});
        }
        byte[] list = "LIST\u0005\u0000\u0000\u0000INFOx\u0000".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        int riffSize = 4 + 8 + fmt.capacity() + (listChunk ? list.length : 0) + 8 + data.capacity();
        write(out, "RIFF");
        writeInt(out, riffSize);
        write(out, "WAVE");
        write(out, "fmt ");
        writeInt(out, fmt.capacity());
        out.writeBytes(fmt.array());
        if (listChunk) {
            // A 5-byte chunk: RIFF pads it to 6, which the reader must skip.
            out.writeBytes(list);
        }
        write(out, "data");
        writeInt(out, data.capacity());
        out.writeBytes(data.array());
        return out.toByteArray();
    }

    /** A 16-bit PCM mono WAV. */
    static byte[] wav16(float[] samples, int rate) {
        return wav(new float[][] {samples}, rate, 16, false, false, false);
    }

    private static long clamp(long v, long low, long high) {
        return Math.max(low, Math.min(high, v));
    }

    private static void write(ByteArrayOutputStream out, String tag) {
        out.writeBytes(tag.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    }

    private static void writeInt(ByteArrayOutputStream out, int value) {
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
    }

    /** The complex amplitude of frequency f in x (least squares over whole samples): |a| of a sin + b cos. */
    static double amplitude(float[] x, int from, int to, double frequency, int rate) {
        double s = 0;
        double c = 0;
        double ss = 0;
        double cc = 0;
        double sc = 0;
        for (int n = from; n < to; n++) {
            double angle = 2 * Math.PI * frequency * n / rate;
            double sin = Math.sin(angle);
            double cos = Math.cos(angle);
            s += x[n] * sin;
            c += x[n] * cos;
            ss += sin * sin;
            cc += cos * cos;
            sc += sin * cos;
        }
        // Solve [ss sc; sc cc] [a; b] = [s; c].
        double det = ss * cc - sc * sc;
        double a = (s * cc - c * sc) / det;
        double b = (c * ss - s * sc) / det;
        return Math.hypot(a, b);
    }

    static double rms(float[] x, int from, int to) {
        double sum = 0;
        for (int n = from; n < to; n++) {
            sum += (double) x[n] * x[n];
        }
        return Math.sqrt(sum / (to - from));
    }
}
