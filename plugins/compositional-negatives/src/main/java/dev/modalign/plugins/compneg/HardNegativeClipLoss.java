package dev.modalign.plugins.compneg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import dev.modalign.plugins.logitscale.LogitScale;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * CLIP's InfoNCE with compositional hard negatives in the image-to-text denominators: NegCLIP's loss ("When and
 * why vision-language models behave like bags-of-words, and what to do about it?", Yuksekgonul et al., ICLR
 * 2023, Section 5) and Structure-CLIP's hard-negative contrastive term (Huang et al., AAAI 2024, Eq. 4). For
 * every caption of the batch the loss makes up to one negative of each configured {@link CaptionPerturbation}
 * (words swapped, shuffled, phrases swapped, a word replaced by one of its kind), asks the host to encode them
 * with the text tower (API 1.3's {@link dev.modalign.api.BatchEncoder}, gradients flowing into the text
 * encoder), and appends them as extra columns of the image-to-text logits:
 *
 * <pre>
 *   u = image / ||image||,  v = text / ||text||,  w = negatives / ||negatives||     [B, D], [B, D], [M, D]
 *   S = exp(t) u v^T   [B, B],   H = exp(t) u w^T   [B, M]        t = logit_scale = log(1 / temperature)
 *   image_to_text = -1/B sum_i log( exp(S_ii) / (sum_j exp(S_ij) + sum_m exp(H_im)) )
 *   text_to_image = -1/B sum_j log( exp(S_jj) / sum_i exp(S_ij) )        negatives have no image: not here
 *   loss = (image_to_text + text_to_image) / 2
 * </pre>
 *
 * <p>As in NegCLIP, every image sees every negative of the batch (M up to B times the number of perturbations),
 * not only its own caption's: its own are the hard ones, the others extra in-batch negatives. With no negative
 * to make (one-word captions and a batch of one), the loss is CLIP's exactly. The temperature is CLIP's (the
 * shared {@code logit_scale}, fixed or learned, capped).
 */
public final class HardNegativeClipLoss implements Loss {

    /**
     * @param perturbations how hard negatives are made, one per caption and kind where it applies
     * @param maxWords only the first max_words words of a caption are perturbed
     * @param temperature the softmax temperature, or its initial value when learnable
     * @param learnable learn log(1 / temperature) with the towers
     * @param maxLogitScale the cap on exp(logit_scale)
     */
    public record Params(
            @Doc("How each caption's hard negatives are made, at most one per kind: swap-words (two content words"
                    + " trade places), shuffle-words (a new word order), swap-phrases (the phrases either side of the"
                    + " first connective trade places), replace-word (an attribute by another of its group, else the"
                    + " head noun by another caption's from the batch)")
            @Default("[swap-words, shuffle-words, swap-phrases, replace-word]") List<String> perturbations,
            @Doc("Only the first max_words words of a caption are perturbed: keep it below the text modality's"
                    + " max_len (minus its special tokens), or a change past the cut leaves the negative identical to"
                    + " the caption")
            @Default("15") int maxWords,
            @Doc("Softmax temperature: logits are cosine similarities divided by it; the initial value when learnable")
            @Default("0.07") double temperature,
            @Doc("Learn the temperature as logit_scale = log(1 / temperature), as CLIP does; false keeps it fixed")
            @Default("true") boolean learnable,
            @Doc("Cap on the logit scale 1 / temperature; the learned scale is clipped to it")
            @Default("100") double maxLogitScale) {

        public Params {
            CaptionPerturbation.parse(perturbations, "perturbations");
            perturbations = List.copyOf(perturbations);
            if (maxWords < 2) {
                throw new InvalidParamException("max_words", "must be at least 2 (a perturbation needs two words),"
                        + " found " + maxWords);
            }
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be a finite number > 0, found " + temperature
                        + "; CLIP starts from 0.07");
            }
            if (!(maxLogitScale > 0) || !Double.isFinite(maxLogitScale) || 1 / temperature > maxLogitScale * (1 + 1e-9)) {
                throw new InvalidParamException("max_logit_scale", "must be a finite number >= 1 / temperature = "
                        + (1 / temperature) + ", found " + maxLogitScale + "; CLIP uses 100");
            }
        }
    }

    static final String NAME = "compositional-negatives";

    private final String imageTower;
    private final String textTower;
    private final List<CaptionPerturbation> perturbations;
    private final int maxWords;
    private final LogitScale logitScale;

    public HardNegativeClipLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2 || towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", NAME + " reads exactly two towers, the image tower and then the"
                    + " text tower whose captions it perturbs, found " + towers + "; e.g. [image, text]");
        }
        if (context.embedDim(towers.get(0)) != context.embedDim(towers.get(1))) {
            throw new InvalidParamException("towers", NAME + " compares embeddings in one space, but '" + towers.get(0)
                    + "' embeds in " + context.embedDim(towers.get(0)) + " dimensions and '" + towers.get(1) + "' in "
                    + context.embedDim(towers.get(1)) + "; give their encoders the same embed_dim");
        }
        this.imageTower = towers.get(0);
        this.textTower = towers.get(1);
        this.perturbations = CaptionPerturbation.parse(params.perturbations(), "perturbations");
        this.maxWords = params.maxWords();
        this.logitScale = new LogitScale(params.temperature(), params.learnable(), params.maxLogitScale());
    }

    @Override
    public List<Parameter> parameters() {
        return logitScale.parameters();
    }

    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        logitScale.capAfterStep();
    }

    /** The batch's hard-negative captions, in row order and perturbation order, drawn from {@code rng}. */
    List<String> negatives(List<String> captions, Random rng) {
        List<String> negatives = new ArrayList<>();
        for (String caption : captions) {
            for (CaptionPerturbation perturbation : perturbations) {
                Optional<String> negative = perturbation.apply(caption, captions, maxWords, rng);
                negative.ifPresent(negatives::add);
            }
        }
        return negatives;
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray image = batch.tower(imageTower).embedding();
        NDArray text = batch.tower(textTower).embedding();
        List<Object> raw;
        try {
            raw = context.encoder().rawValues(textTower);
        } catch (UnsupportedOperationException e) {
            throw new UnsupportedOperationException(NAME + " encodes the captions it perturbs, which needs a host of"
                    + " API 1.3 or newer (StepContext.encoder): " + e.getMessage(), e);
        }
        List<String> captions = raw.stream().map(String::valueOf).toList();
        List<String> negatives = negatives(captions, context.rng());
        NDArray negativeEmbeddings = negatives.isEmpty() ? null
                : context.encoder().encode(textTower, negatives).embedding();
        NDArray scale = logitScale.clipped(manager, image.getDataType());
        NDArray loss = hardNegativeInfoNce(manager, image, text, negativeEmbeddings, scale);
        NDArray temperature = scale.stopGradient().neg().exp();
        NDArray perCaption = manager.create((float) negatives.size() / Math.max(1, captions.size()));
        return new LossOutput(loss, Map.of("temperature", temperature, "hard_negatives_per_caption", perCaption));
    }

    /**
     * The loss of the class comment for given embeddings; {@code negatives} [M, D] may be null (M = 0), and
     * {@code logScale} is the (clipped) log of the logit scale, a scalar. Arrays it makes belong to {@code manager}.
     */
    static NDArray hardNegativeInfoNce(NDManager manager, NDArray image, NDArray text, NDArray negatives,
            NDArray logScale) {
        int batchSize = Math.toIntExact(image.getShape().get(0));
        DataType dataType = image.getDataType();
        NDArray u = Scalars.normalise(image);
        NDArray v = Scalars.normalise(text);
        NDArray factor = logScale.exp();
        NDArray logits = u.matMul(v.transpose()).mul(factor);
        NDArray diagonal = manager.eye(batchSize, batchSize, 0, dataType);
        NDArray rows = negatives == null ? logits
                : logits.concat(u.matMul(Scalars.normalise(negatives).transpose()).mul(factor), 1);
        NDArray rowDiagonal = negatives == null ? diagonal
                : diagonal.concat(manager.zeros(new ai.djl.ndarray.types.Shape(batchSize,
                        negatives.getShape().get(0)), dataType), 1);
        NDArray imageToText = Scalars.div(rows.logSoftmax(1).mul(rowDiagonal).sum(), -batchSize);
        NDArray textToImage = Scalars.div(logits.logSoftmax(0).mul(diagonal).sum(), -batchSize);
        return Scalars.div(imageToText.add(textToImage), 2);
    }
}
