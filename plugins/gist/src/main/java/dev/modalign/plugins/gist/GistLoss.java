package dev.modalign.plugins.gist;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import java.util.List;
import java.util.Map;

/**
 * Guided in-sample selection of negatives from "GISTEmbed: Guided In-sample Selection of Training
 * Negatives for Text Embedding Fine-tuning" (Solatorio, 2024): a guide model scores every in-batch
 * pair, and a negative that the guide rates more similar to the anchor than the anchor's own positive
 * is taken for a false negative and removed from the contrastive softmax.
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||,  L = u v^T / temperature        rows L2-normalised
 *   G = g1 g2^T (two guide towers) or g g^T (one)                  guide rows L2-normalised, no gradient
 *   first->second:  negative j of anchor i masked when G[i, j] > G[i, i] - margin     (j != i)
 *   second->first:  negative j of anchor i masked when G[j, i] > G[i, i] - margin     (j != i)
 *   loss = (mean_i CE(L[i, unmasked], i) + mean_i CE(L^T[i, unmasked], i)) / 2
 * </pre>
 *
 * <p>The paper's guide embeds both sides of a pair (query and document) with one text model; here the
 * guide is one or two towers of the run (typically {@code frozen: true} or initialised from a trained
 * model): with two, the first embeds what the first contrasted tower reads and the second what the
 * second reads, in one space; with one, it embeds one side of every record (a caption, say), G compares
 * records with each other, its diagonal is 1, and only a margin above 0 masks anything: the records
 * the guide cannot tell from the anchor's own. The margin is the "absolute" margin strategy of the
 * sentence-transformers port of the loss (GISTEmbedLoss); the paper's rule is margin 0.
 *
 * <p>Masked logits are -inf, so they leave the log-softmax exactly, and the log-softmax subtracts each
 * row's maximum, so a temperature of 0.001 does not overflow. The paper's loss also puts the
 * query-query and document-document similarities in the denominator and goes one way, from the query;
 * this loss is CLIP's symmetric cross-modal form. The metric {@code masked_fraction} is the share of the
 * 2 B (B - 1) negatives of both directions that the guide removed.
 */
public final class GistLoss implements Loss {

    /**
     * @param guide the guide tower or towers
     * @param temperature the softmax temperature
     * @param margin how close below the positive's guide score a negative is still masked
     */
    public record Params(
            @Doc("The guide: one tower, or two (one per contrasted tower, in the order of towers), whose embeddings"
                    + " judge which in-batch negatives are false; usually frozen (frozen: true on the tower). Its"
                    + " similarities are computed without gradient. With one tower G compares records with each"
                    + " other and its diagonal is 1, so set a margin above 0")
            List<String> guide,
            @Doc("Softmax temperature: logits are cosine similarities divided by it (fixed). The default 0.01 is"
                    + " the paper's, for fine-tuning pretrained text models; a model trained from scratch may need"
                    + " a softer one such as 0.05")
            @Default("0.01") double temperature,
            @Doc("Absolute margin: a negative is masked when its guide similarity to the anchor exceeds the"
                    + " positive's minus this margin (0, the paper's rule: only negatives the guide ranks above"
                    + " the positive; the margin_strategy 'absolute' of sentence-transformers' GISTEmbedLoss)")
            @Default("0.0") double margin) {

        public Params {
            if (guide == null || guide.isEmpty() || guide.size() > 2) {
                throw new InvalidParamException("guide", "must name one guide tower or two (one per contrasted"
                        + " tower), found " + guide + "; e.g. guide: caption_guide");
            }
            for (String tower : guide) {
                if (tower == null || tower.isBlank()) {
                    throw new InvalidParamException("guide", "names an empty tower, found " + guide);
                }
            }
            guide = List.copyOf(guide);
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be > 0, found " + temperature
                        + "; GISTEmbed uses 0.01");
            }
            if (!Double.isFinite(margin)) {
                throw new InvalidParamException("margin", "must be a finite number, found " + margin
                        + "; 0 is the paper's rule");
            }
        }
    }

    private final String firstTower;
    private final String secondTower;
    private final String firstGuide;
    private final String secondGuide;
    private final Params params;

    public GistLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "gist reads exactly two towers, found " + towers
                    + "; name the two towers whose pairs it contrasts, e.g. [image, text], and the guide under guide");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "gist contrasts two different towers, found " + towers);
        }
        Integer firstGuideDim = null;
        for (String guide : params.guide()) {
            int dim;
            try {
                dim = context.embedDim(guide);
            } catch (IllegalArgumentException e) {
                throw new InvalidParamException("guide", "names no tower of this run, found '" + guide + "': "
                        + e.getMessage() + "; declare the guide under towers (usually with frozen: true)");
            }
            if (firstGuideDim != null && firstGuideDim != dim) {
                throw new InvalidParamException("guide", "two guide towers must embed in one space, but '"
                        + params.guide().get(0) + "' has " + firstGuideDim + " dimensions and '" + guide + "' "
                        + dim + "; give their encoders the same embed_dim");
            }
            firstGuideDim = dim;
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.firstGuide = params.guide().get(0);
        this.secondGuide = params.guide().get(params.guide().size() - 1);
        this.params = params;
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray u = Scalars.normalise(batch.tower(firstTower).embedding());
        NDArray v = Scalars.normalise(batch.tower(secondTower).embedding());
        int batchSize = Math.toIntExact(u.getShape().get(0));
        DataType dataType = u.getDataType();
        NDArray logits = Scalars.div(u.matMul(v.transpose()), params.temperature());

        GuideMasks masks = guideMasks(batch, batchSize);
        NDArray firstToSecond = logits.add(additive(manager, masks.firstToSecond(), batchSize, dataType))
                .logSoftmax(1).diagonal();
        NDArray secondToFirst = logits.transpose().add(additive(manager, masks.secondToFirst(), batchSize, dataType))
                .logSoftmax(1).diagonal();
        NDArray loss = Scalars.div(firstToSecond.sum().add(secondToFirst.sum()), -2.0 * batchSize);
        return new LossOutput(loss, Map.of("masked_fraction", manager.create((float) masks.maskedFraction())));
    }

    /** Which negatives the guide removes, row-major [B * B] per direction (anchors on rows). */
    record GuideMasks(boolean[] firstToSecond, boolean[] secondToFirst, double maskedFraction) {}

    /** The masks of the class comment, from the guide's similarities taken without gradient. */
    GuideMasks guideMasks(EncodedBatch batch, int batchSize) {
        NDArray first = Scalars.normalise(batch.tower(firstGuide).embedding().stopGradient());
        NDArray second = secondGuide.equals(firstGuide)
                ? first
                : Scalars.normalise(batch.tower(secondGuide).embedding().stopGradient());
        float[] g = first.matMul(second.transpose()).toType(DataType.FLOAT32, false).toFloatArray();
        boolean[] firstToSecond = new boolean[batchSize * batchSize];
        boolean[] secondToFirst = new boolean[batchSize * batchSize];
        int masked = 0;
        for (int i = 0; i < batchSize; i++) {
            double threshold = g[i * batchSize + i] - params.margin();
            for (int j = 0; j < batchSize; j++) {
                if (j == i) {
                    continue;
                }
                if (g[i * batchSize + j] > threshold) {
                    firstToSecond[i * batchSize + j] = true;
                    masked++;
                }
                if (g[j * batchSize + i] > threshold) {
                    secondToFirst[i * batchSize + j] = true;
                    masked++;
                }
            }
        }
        double fraction = batchSize < 2 ? 0 : masked / (2.0 * batchSize * (batchSize - 1));
        return new GuideMasks(firstToSecond, secondToFirst, fraction);
    }

    /** -inf where masked and 0 elsewhere, [B, B]: added to the logits, it drops the masked ones from the softmax. */
    private static NDArray additive(NDManager manager, boolean[] mask, int batchSize, DataType dataType) {
        float[] values = new float[mask.length];
        for (int k = 0; k < mask.length; k++) {
            values[k] = mask[k] ? Float.NEGATIVE_INFINITY : 0f;
        }
        return manager.create(values, new Shape(batchSize, batchSize)).toType(dataType, false);
    }

}
