package dev.modalign.plugins.clap;

import ai.djl.nn.Block;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InvalidParamException;
import java.util.List;

/**
 * CLAP's audio encoder with feature fusion for variable-length audio ("Large-scale Contrastive
 * Language-Audio Pretraining with Feature Fusion and Keyword-to-Caption Augmentation", Wu et al.,
 * ICASSP 2023): a clip longer than the window is seen whole, resized to the window (global), and in
 * three windows from its front, middle and back (local), fused by attentional feature fusion; a shorter
 * clip is filled up to the window. See {@link ClapFusionBlock} and {@link FusionViews}.
 *
 * <p>It reads the audio modality's log-mel [B, 1, M, F] and its mask [B, F] ({@code mask: true}), so
 * that it knows each clip's real length; the modality's {@code max_seconds} is then the longest part
 * of a recording the encoder can see (F frames), and {@code window_frames} the window W each view has
 * (CLAP: 10 s, 1001 frames at 48 kHz with hop 480).
 */
public final class ClapFusionEncoder implements Encoder {

    static final String NEEDS_MASK = "clap-fusion reads each clip's real length from the audio modality's mask: set"
            + " mask: true under the tower's modality (audio)";

    /** The parameters of {@code clap-fusion}. */
    public record Params(
            @Doc("Frames of each view (the global and the three local ones): clips longer than this are fused, shorter"
                    + " ones filled up to it (CLAP: 1001, 10 s at 48 kHz with hop 480); at most the modality's frames")
            @Default("1001") int windowFrames,
            @Doc("How clips no longer than the window are filled up to it: repeat (CLAP's repeatpad) or zero")
            @Default("repeat") String fill,
            @Doc("Output channels of the stem and of each later stage; every stage after the stem halves the"
                    + " resolution") @Default("[32, 64, 128]") List<Integer> channels,
            @Doc("Size of the output embedding") @Default("128") int embedDim,
            @Doc("The largest side the stem convolves; larger views are average-pooled first, as in the cnn encoder")
            @Default("32") int maxStemSize,
            @Doc("Channel reduction of the attentional feature fusion's bottleneck (CLAP's AFF: 4)") @Default("4")
            int fusionReduction) {

        public Params {
            if (windowFrames < 1) {
                throw new InvalidParamException("window_frames", "must be >= 1, found " + windowFrames);
            }
            if (!"repeat".equals(fill) && !"zero".equals(fill)) {
                throw new InvalidParamException("fill", "must be repeat or zero, found '" + fill + "'");
            }
            if (channels == null || channels.isEmpty()) {
                throw new InvalidParamException("channels", "needs at least one stage, e.g. [32, 64, 128]");
            }
            for (Integer filters : channels) {
                if (filters == null || filters <= 0) {
                    throw new InvalidParamException("channels", "channel counts must be > 0, found " + channels);
                }
            }
            channels = List.copyOf(channels);
            if (embedDim <= 0) {
                throw new InvalidParamException("embed_dim", "must be > 0, found " + embedDim);
            }
            if (maxStemSize <= 0) {
                throw new InvalidParamException("max_stem_size", "must be > 0, found " + maxStemSize);
            }
            if (fusionReduction < 1) {
                throw new InvalidParamException("fusion_reduction", "must be >= 1, found " + fusionReduction);
            }
        }
    }

    private final Params params;
    private final ClapFusionBlock block;

    public ClapFusionEncoder(Params params, ComponentContext context) {
        String tower = context.towers().isEmpty() ? "this tower" : "tower '" + context.towers().get(0) + "'";
        if (!(context.input() instanceof ImageSpec spectrogram) || spectrogram.channels() != 1) {
            throw new InvalidParamException("type", "clap-fusion needs the audio modality's log-mel spectrograms"
                    + " (one channel); " + tower + " has " + context.input().kind() + " input: use it on an audio tower");
        }
        if (params.windowFrames() > spectrogram.width()) {
            throw new InvalidParamException("window_frames", "is " + params.windowFrames() + " frames, more than the "
                    + spectrogram.width() + " frames " + tower + "'s modality gives, so no clip could be longer than"
                    + " the window; raise the modality's max_seconds or lower window_frames");
        }
        this.params = params;
        this.block = new ClapFusionBlock(spectrogram.height(), params.windowFrames(), params.channels(),
                params.embedDim(), params.maxStemSize(), params.fill().equals("repeat"), params.fusionReduction(),
                context.seed());
    }

    @Override
    public Block block() {
        return block;
    }

    @Override
    public int embedDim() {
        return params.embedDim();
    }
}
