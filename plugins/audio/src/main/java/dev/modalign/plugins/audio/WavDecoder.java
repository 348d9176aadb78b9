package dev.modalign.plugins.audio;

import dev.modalign.api.DataException;
import java.nio.charset.StandardCharsets;

/**
 * Reads RIFF WAVE files: PCM (format 1) at 8 (unsigned), 16, 24 or 32 bits, IEEE float (format 3)
 * at 32 or 64 bits, and WAVE_FORMAT_EXTENSIBLE (0xFFFE) wrapping either; any number of channels,
 * mixed to mono by averaging. Chunks other than "fmt " and "data" (LIST, fact, cue, ...) are
 * skipped, with RIFF's padding of odd-sized chunks. A data chunk whose declared size runs past the
 * end of the file is refused as truncated rather than read short, except the size 0xFFFFFFFF that
 * streaming writers leave, which means "to the end of the file".
 *
 * <p>Only the frames asked for are read, so the head of a long recording costs what the head costs.
 */
final class WavDecoder {

    private static final int FORMAT_PCM = 1;
    private static final int FORMAT_FLOAT = 3;
    private static final int FORMAT_EXTENSIBLE = 0xFFFE;
    private static final long STREAMED_SIZE = 0xFFFFFFFFL;

    private WavDecoder() {}

    /**
     * Decodes the first frames of the recording, as many as {@code maxFramesAtRate} gives for its
     * sample rate.
     *
     * @param where names the recording in messages: origin and file or byte count
     */
    static PcmAudio decode(ByteSource source, java.util.function.IntToLongFunction maxFramesAtRate, String where) {
        byte[] header = source.read(0, 12);
        if (header.length < 12) {
            throw new DataException(where + " is not a WAV file: " + source.size() + " bytes, shorter than a RIFF header"
                    + " (12 bytes)");
        }
        if (!tag(header, 0).equals("RIFF") || !tag(header, 8).equals("WAVE")) {
            String kind = tag(header, 0).equals("RIFX") ? " (RIFX, big-endian WAV, is not supported)" : "";
            throw new DataException(where + " is not a WAV file: it starts with '" + printable(header) + "', not"
                    + " 'RIFF....WAVE'" + kind + "; for headerless PCM set the modality's format: raw, or convert it"
                    + " to WAV (e.g. ffmpeg -i in -c:a pcm_s16le out.wav)");
        }
        long position = 12;
        Format format = null;
        while (true) {
            byte[] chunk = source.read(position, 8);
            if (chunk.length < 8) {
                throw new DataException(where + " is truncated or corrupt: no " + (format == null ? "'fmt '" : "'data'")
                        + " chunk before the end of the file at byte " + source.size());
            }
            String id = tag(chunk, 0);
            long size = uint32(chunk, 4);
            long body = position + 8;
            if (id.equals("fmt ")) {
                if (size < 16 || body + size > source.size()) {
                    throw new DataException(where + " is corrupt: its 'fmt ' chunk at byte " + position + " declares "
                            + size + " bytes" + (size < 16 ? ", fewer than the 16 of a WAV format" : ", past the end of"
                            + " the file (" + source.size() + " bytes)"));
                }
                format = format(source.read(body, (int) Math.min(size, 64)), where);
            } else if (id.equals("data")) {
                if (format == null) {
                    throw new DataException(where + " is corrupt: its 'data' chunk at byte " + position
                            + " comes before any 'fmt ' chunk");
                }
                long available = source.size() - body;
                if (size == STREAMED_SIZE) {
                    size = available;
                } else if (size > available) {
                    throw new DataException(where + " is truncated: its 'data' chunk declares " + size + " bytes but the"
                            + " file holds " + available + " after byte " + body + "; re-encode or repair the file");
                }
                int frameBytes = format.encoding().bytes() * format.channels();
                if (size % frameBytes != 0) {
                    throw new DataException(where + " is corrupt: its 'data' chunk of " + size + " bytes is not a whole"
                            + " number of " + frameBytes + "-byte frames (" + format.channels() + " channels of "
                            + format.encoding().bytes() + " bytes)");
                }
                long totalFrames = size / frameBytes;
                if (totalFrames == 0) {
                    throw new DataException(where + " holds no audio: its 'data' chunk is empty");
                }
                long frames = Math.min(totalFrames, maxFramesAtRate.applyAsLong(format.sampleRate()));
                if (frames * frameBytes > Integer.MAX_VALUE - 8) {
                    throw new DataException(where + ": " + frames + " frames of " + frameBytes + " bytes are more than one"
                            + " array holds; set the modality's source_seconds to keep less of each recording");
                }
                byte[] data = source.read(body, (int) (frames * frameBytes));
                float[] mono = format.encoding().decodeMono(data, 0, (int) frames, format.channels());
                return new PcmAudio(mono, format.sampleRate(), totalFrames);
            }
            position = body + size + (size & 1);
        }
    }

    private record Format(PcmEncoding encoding, int channels, int sampleRate) {}

    private static Format format(byte[] fmt, String where) {
        int code = uint16(fmt, 0);
        int channels = uint16(fmt, 2);
        long sampleRate = uint32(fmt, 4);
        int blockAlign = uint16(fmt, 12);
        int bits = uint16(fmt, 14);
        if (code == FORMAT_EXTENSIBLE) {
            if (fmt.length < 26) {
                throw new DataException(where + " is corrupt: WAVE_FORMAT_EXTENSIBLE without its sub-format");
            }
            code = uint16(fmt, 24);
        }
        if (channels < 1) {
            throw new DataException(where + " is corrupt: it declares " + channels + " channels");
        }
        if (sampleRate < 1 || sampleRate > 1_000_000) {
            throw new DataException(where + " is corrupt: it declares a sample rate of " + sampleRate + " Hz");
        }
        PcmEncoding encoding;
        if (code == FORMAT_PCM) {
            encoding = switch (bits) {
                case 8 -> PcmEncoding.U8;
                case 16 -> PcmEncoding.S16LE;
                case 24 -> PcmEncoding.S24LE;
                case 32 -> PcmEncoding.S32LE;
                default -> throw new DataException(where + ": " + bits + "-bit integer PCM is not supported (8, 16, 24 or"
                        + " 32 are); convert it, e.g. ffmpeg -i in.wav -c:a pcm_s16le out.wav");
            };
        } else if (code == FORMAT_FLOAT) {
            encoding = switch (bits) {
                case 32 -> PcmEncoding.F32LE;
                case 64 -> PcmEncoding.F64LE;
                default -> throw new DataException(where + ": " + bits + "-bit float WAV is not supported (32 or 64 are)");
            };
        } else {
            throw new DataException(where + ": WAV format code " + code + " (" + formatName(code) + ") is not supported,"
                    + " only PCM and IEEE float; convert it, e.g. ffmpeg -i in.wav -c:a pcm_s16le out.wav");
        }
        if (blockAlign != channels * encoding.bytes()) {
            throw new DataException(where + " is corrupt: block align " + blockAlign + " does not match " + channels
                    + " channels of " + bits + " bits");
        }
        return new Format(encoding, channels, (int) sampleRate);
    }

    private static String formatName(int code) {
        return switch (code) {
            case 2 -> "Microsoft ADPCM";
            case 6 -> "A-law";
            case 7 -> "mu-law";
            case 0x11 -> "IMA ADPCM";
            case 0x55 -> "MP3";
            default -> "unknown";
        };
    }

    private static String tag(byte[] bytes, int at) {
        return new String(bytes, at, 4, StandardCharsets.ISO_8859_1);
    }

    private static String printable(byte[] bytes) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < Math.min(12, bytes.length); i++) {
            int c = bytes[i] & 0xFF;
            text.append(c >= 32 && c < 127 ? (char) c : '.');
        }
        return text.toString();
    }

    private static int uint16(byte[] bytes, int at) {
        return (bytes[at] & 0xFF) | ((bytes[at + 1] & 0xFF) << 8);
    }

    private static long uint32(byte[] bytes, int at) {
        return (bytes[at] & 0xFFL) | ((bytes[at + 1] & 0xFFL) << 8) | ((bytes[at + 2] & 0xFFL) << 16)
                | ((bytes[at + 3] & 0xFFL) << 24);
    }
}
