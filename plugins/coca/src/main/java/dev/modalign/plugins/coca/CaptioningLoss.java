package dev.modalign.plugins.coca;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.StepContext;
import dev.modalign.api.TowerOutput;
import java.util.List;
import java.util.Map;

/**
 * CoCa's captioning loss ("CoCa: Contrastive Captioners are Image-Text Foundation Models", Yu et al., 2022,
 * eq. 2): the teacher-forced negative log-likelihood of each caption token given the caption's earlier tokens
 * and the image, {@code L_Cap = -sum_t log P(y_t | y_<t, x)}, averaged over the batch's real tokens. It sits
 * beside the contrastive loss (a {@code clip} entry in the same experiment; CoCa's eq. 3 weighs the two,
 * here by the entries' {@code weight}).
 *
 * <p>The image side is the image tower's token features [B, N, D] ({@link TowerOutput#tokens()}, e.g. the
 * cnn's patch tokens), which the decoder cross-attends to; the caption is the text tower's input ids [B, T]
 * and mask ({@link EncodedBatch#input}, API 1.3), after its augmentations. With the word tokenizer a caption
 * is [CLS, w1 .. wn] followed by PAD: position t predicts id t+1, and the position of the last word predicts
 * PAD, which ends a generated caption. The decoder ({@link CaptionDecoder}) is this loss's parameters.
 *
 * <p>Metrics: {@code token_accuracy}, the share of real positions whose most likely next id is the true one.
 */
public final class CaptioningLoss implements Loss {

    /** The loss's YAML keys. */
    public record Params(
            @Doc("The decoder's width") @Default("128") int width,
            @Doc("Transformer layers of the decoder (each: causal self-attention, cross-attention to the image"
                    + " tokens, MLP)") @Default("1") int layers,
            @Doc("Attention heads; width must be a multiple") @Default("4") int heads,
            @Doc("Ids of the text tower's tokenizer (its vocab_size, specials included)") @Default("4096")
                    int vocabSize,
            @Doc("Positions of the decoder: at least the text modality's max_len") @Default("16") int maxLen) {
        public Params {
            if (width <= 0) {
                throw new InvalidParamException("width", "must be > 0, found " + width);
            }
            if (layers <= 0) {
                throw new InvalidParamException("layers", "must be > 0, found " + layers);
            }
            if (heads <= 0 || width % heads != 0) {
                throw new InvalidParamException("heads", "must be > 0 and divide width " + width + ", found " + heads);
            }
            if (vocabSize < 2) {
                throw new InvalidParamException("vocab_size", "must be >= 2, found " + vocabSize);
            }
            if (maxLen < 2) {
                throw new InvalidParamException("max_len", "must be >= 2 (a start id and one token), found " + maxLen);
            }
        }
    }

    /** The id that follows a caption's last word (the word tokenizer's PAD): the captions' end. */
    static final int END = 0;
    /** The id every caption starts with (the word tokenizer's CLS): the start of a generated caption. */
    static final int START = 1;

    private final String imageTower;
    private final String textTower;
    private final CaptionDecoder decoder;

    CaptioningLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "coca-captioning reads two towers, the image tower (its token"
                    + " features) and the text tower (its caption ids), found " + towers + "; e.g. [image, text]");
        }
        this.imageTower = towers.get(0);
        this.textTower = towers.get(1);
        this.decoder = new CaptionDecoder(params.vocabSize(), params.maxLen(), context.embedDim(imageTower),
                params.width(), params.layers(), params.heads(), context.seed());
    }

    CaptionDecoder decoder() {
        return decoder;
    }

    String imageTower() {
        return imageTower;
    }

    @Override
    public List<Parameter> parameters() {
        return decoder.parameters();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        TowerOutput image = batch.tower(imageTower);
        if (image.tokens() == null) {
            throw new IllegalStateException("coca-captioning cross-attends to the token features of tower '"
                    + imageTower + "', whose encoder gives none; use one that does (cnn)");
        }
        NDList caption = batch.input(textTower);
        NDArray ids = caption.get(0).toType(DataType.INT64, false);
        NDArray mask = caption.get(1).toType(DataType.FLOAT32, false);
        long largest = ids.max().getLong();
        if (largest >= decoder.vocabularySize()) {
            throw new IllegalArgumentException("caption id " + largest + " is outside the decoder's vocab_size "
                    + decoder.vocabularySize() + "; set vocab_size to the text modality's");
        }
        // Targets: the next id at every position, PAD after the last column (the captions' end).
        NDArray targets = ids.get(new NDIndex(":, 1:")).concat(
                context.manager().full(new Shape(ids.getShape().get(0), 1), END, DataType.INT64, ids.getDevice()), 1);
        NDArray logits = decoder.logits(ids, image.tokens(), image.tokenMask());
        NDArray logProbabilities = logits.logSoftmax(-1);
        NDArray picked = logProbabilities.mul(targets.oneHot(decoder.vocabularySize()).toType(logits.getDataType(),
                false)).sum(new int[] {-1});
        NDArray count = mask.sum();
        NDArray loss = picked.mul(mask).sum().div(count).neg();
        NDArray hits = logits.stopGradient().argMax(-1).eq(targets).toType(DataType.FLOAT32, false).mul(mask).sum()
                .div(count);
        return new LossOutput(loss, Map.of("token_accuracy", hits));
    }
}
