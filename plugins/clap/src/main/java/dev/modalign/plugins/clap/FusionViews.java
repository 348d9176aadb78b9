package dev.modalign.plugins.clap;

import java.util.Random;

/**
 * Where the views of CLAP's feature fusion read a clip ("Large-scale Contrastive Language-Audio
 * Pretraining with Feature Fusion and Keyword-to-Caption Augmentation", Wu et al., ICASSP 2023, Section
 * 2.3): for a clip of L real frames and a window of W frames,
 *
 * <ul>
 *   <li>a clip longer than the window ("longer"): the global view is the whole clip resized to W
 *       frames by linear interpolation along time (the authors resize the mel spectrogram with
 *       torchvision's bilinear Resize, whose frequency axis is unchanged; half-pixel centres, source
 *       frame (t + 0.5) L / W - 0.5, clamped); the three local views are windows of W frames starting
 *       in the front, middle and back third of the L - W + 1 possible starts (numpy's array_split into
 *       three; an empty third starts at 0, as theirs): at random while training, as theirs, and at the
 *       centre of each third otherwise, so that evaluation is deterministic;
 *   <li>a clip of at most W frames: the global view is the clip filled up to W, by repeating it (their
 *       "repeatpad") or with silence, and the local views are that same view (theirs stacks the one
 *       mel four times), which the fusion then leaves out.
 * </ul>
 *
 * <p>Each view frame t is {@code (1 - weight) x[low] + weight x[high]} of the clip's frames, with
 * {@code valid} 0 where silence fills: the arrays here are its indices and weights, [B * W] each, for
 * a gather on the engine. Only real frames are ever read, so whatever follows a clip in its batch
 * (padding, or nothing) changes no view.
 */
final class FusionViews {

    /** The index, weight and validity of each view frame; row-major [clip][frame]. */
    record View(long[] low, long[] high, float[] weight, float[] valid) {}

    private final View global;
    private final View[] locals;
    private final boolean[] longer;

    private FusionViews(View global, View[] locals, boolean[] longer) {
        this.global = global;
        this.locals = locals;
        this.longer = longer;
    }

    View global() {
        return global;
    }

    /** Front, middle and back windows. */
    View local(int which) {
        return locals[which];
    }

    /** Whether clip i is longer than the window, so that fusion applies to it. */
    boolean longer(int clip) {
        return longer[clip];
    }

    /**
     * @param lengths each clip's real frames, at least 1
     * @param window W
     * @param repeat fill short clips by repeating them (else with silence)
     * @param random where the local windows start at random (training), or null for the thirds' centres
     */
    static FusionViews of(int[] lengths, int window, boolean repeat, Random random) {
        int clips = lengths.length;
        View global = empty(clips, window);
        View[] locals = {empty(clips, window), empty(clips, window), empty(clips, window)};
        boolean[] longer = new boolean[clips];
        for (int i = 0; i < clips; i++) {
            int length = lengths[i];
            if (length < 1) {
                throw new IllegalArgumentException("clip " + i + " of the batch has no real frame; its mask is all 0");
            }
            longer[i] = length > window;
            int offset = i * window;
            if (longer[i]) {
                for (int t = 0; t < window; t++) {
                    double source = Math.min(Math.max((t + 0.5) * length / window - 0.5, 0), length - 1);
                    int low = (int) Math.floor(source);
                    set(global, offset + t, low, Math.min(low + 1, length - 1), (float) (source - low), 1f);
                }
                int[] starts = starts(length - window + 1, random);
                for (int c = 0; c < 3; c++) {
                    for (int t = 0; t < window; t++) {
                        set(locals[c], offset + t, starts[c] + t, starts[c] + t, 0f, 1f);
                    }
                }
            } else {
                for (int t = 0; t < window; t++) {
                    int frame = repeat ? t % length : Math.min(t, length - 1);
                    float valid = repeat || t < length ? 1f : 0f;
                    set(global, offset + t, frame, frame, 0f, valid);
                    for (View local : locals) {
                        set(local, offset + t, frame, frame, 0f, valid);
                    }
                }
            }
        }
        return new FusionViews(global, locals, longer);
    }

    /**
     * The starts of the front, middle and back windows among {@code positions} possible starts: the
     * authors' np.array_split(range(positions), 3), a random element of each part (or its centre), an
     * empty part starting at 0.
     */
    static int[] starts(int positions, Random random) {
        int[] starts = new int[3];
        int base = positions / 3;
        int extra = positions % 3;
        int from = 0;
        for (int c = 0; c < 3; c++) {
            int size = base + (c < extra ? 1 : 0);
            if (size == 0) {
                starts[c] = 0;
            } else {
                starts[c] = from + (random == null ? size / 2 : random.nextInt(size));
            }
            from += size;
        }
        return starts;
    }

    private static View empty(int clips, int window) {
        int size = clips * window;
        return new View(new long[size], new long[size], new float[size], new float[size]);
    }

    private static void set(View view, int at, int low, int high, float weight, float valid) {
        view.low()[at] = low;
        view.high()[at] = high;
        view.weight()[at] = weight;
        view.valid()[at] = valid;
    }
}
