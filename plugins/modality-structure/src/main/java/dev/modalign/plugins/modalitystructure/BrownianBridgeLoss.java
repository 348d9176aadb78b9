package dev.modalign.plugins.modalitystructure;

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
import java.util.Random;

/**
 * The Brownian bridge loss of "Understanding and Constructing Latent Modality Structures in
 * Multi-modal Representation Learning" (Jiang et al., CVPR 2023), the paper's inter-modal
 * regulariser: instead of collapsing an image onto its caption, the embeddings between them should lie
 * on a Brownian bridge from the image to the text. The bridge pinned at x (t = 0) and y (t = 1) passes
 * at time t through N((1 - t) x + t y, t (1 - t) I); the loss scores an intermediate embedding against
 * it contrastively, with the batch's other intermediate points as negatives, as in the Brownian bridge
 * objective the paper builds on (Wang et al., "Language Modeling via Stochastic Processes", ICLR 2022):
 *
 * <pre>
 *   x, y, m: the rows of the three towers, L2-normalised   (image, text, intermediate view)
 *   t_i ~ U(t_margin, 1 - t_margin), one per record, from the step's seeded generator
 *   mu_i = (1 - t_i) x_i + t_i y_i,   var_i = t_i (1 - t_i)
 *   d_ij = -||m_j - mu_i||^2 / (2 var_i)                  log-density of point j on bridge i, up to a constant
 *   loss = mean_i [ -d_ii + logsumexp_j d_ij ]             cross-entropy: bridge i should pick its own point
 * </pre>
 *
 * <p>The intermediate point is a third tower: the embedding of something between the two end points,
 * e.g. the same image under another augmentation (a tower of its own reading the image field), or the
 * caption read by a second text tower. The framework gives no tower two views of one record, so the
 * loss names three towers, {@code [image, text, intermediate]}.
 *
 * <p>The bridge's variance t (1 - t) vanishes at the ends, where 1 / var makes the scores, and the
 * gradients, of a single record dwarf the rest; {@code t_margin} keeps t away from 0 and 1 (a margin
 * of 0 would be U(0, 1) itself, which the loss refuses: a draw of exactly 0 divides by zero). The
 * scores go through log-softmax, which stays finite when a small variance makes them large. The
 * metric {@code distance} is the mean distance of each intermediate point from its bridge's mean.
 */
public final class BrownianBridgeLoss implements Loss {

    /** @param tMargin the distance of t from the end points 0 and 1 */
    public record Params(
            @Doc("Each record's bridge time t is drawn from U(t_margin, 1 - t_margin): the variance t (1 - t) of the"
                    + " bridge vanishes at t = 0 and 1, and the margin bounds 1 / variance (by about 21 at 0.05)")
            @Default("0.05") double tMargin) {

        public Params {
            if (!(tMargin > 0 && tMargin < 0.5)) {
                throw new InvalidParamException("t_margin", "must be in (0, 0.5), found " + tMargin
                        + "; t is drawn from U(t_margin, 1 - t_margin), and the bridge's variance t (1 - t) is 0 at the"
                        + " ends");
            }
        }
    }

    private final String start;
    private final String end;
    private final String intermediate;
    private final Params params;

    public BrownianBridgeLoss(Params params, ComponentContext context) {
        List<String> towers = TowerChecks.distinct(context, "brownian-bridge", 3, 3,
                "[image, text, image_view]: the two end points, then the intermediate point");
        TowerChecks.sameEmbedDim(context, "brownian-bridge", towers);
        this.start = towers.get(0);
        this.end = towers.get(1);
        this.intermediate = towers.get(2);
        this.params = params;
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        int batchSize = Math.toIntExact(batch.tower(start).embedding().getShape().get(0));
        return compute(batch, context.manager(), times(context.rng(), batchSize));
    }

    /** Each record's bridge time, U(t_margin, 1 - t_margin), drawn in record order. */
    double[] times(Random rng, int batchSize) {
        double[] times = new double[batchSize];
        for (int i = 0; i < batchSize; i++) {
            times[i] = params.tMargin() + (1 - 2 * params.tMargin()) * rng.nextDouble();
        }
        return times;
    }

    /** The loss for the given bridge times, one per record. */
    LossOutput compute(EncodedBatch batch, NDManager manager, double[] times) {
        NDArray x = Scalars.normalise(batch.tower(start).embedding());
        NDArray y = Scalars.normalise(batch.tower(end).embedding());
        NDArray m = Scalars.normalise(batch.tower(intermediate).embedding());
        int batchSize = Math.toIntExact(x.getShape().get(0));
        if (times.length != batchSize) {
            throw new IllegalArgumentException("brownian-bridge: " + times.length + " bridge times for a batch of "
                    + batchSize);
        }
        DataType dataType = x.getDataType();
        float[] t = new float[batchSize];
        float[] oneMinusT = new float[batchSize];
        float[] halfPrecision = new float[batchSize];
        for (int i = 0; i < batchSize; i++) {
            t[i] = (float) times[i];
            oneMinusT[i] = (float) (1 - times[i]);
            // 1 / (2 var_i), the factor of bridge i's scores.
            halfPrecision[i] = (float) (1 / (2 * times[i] * (1 - times[i])));
        }
        NDArray timeColumn = column(manager, t, dataType);
        NDArray mean = x.mul(column(manager, oneMinusT, dataType)).add(y.mul(timeColumn)); // [B, D]

        // ||m_j - mu_i||^2 as a [B (bridge i), B (point j)] matrix, from the differences themselves ([B, B, D]):
        // expanding it into norms and a dot product cancels to float32 noise for the close pairs, which a
        // small variance then multiplies by up to 1 / (2 var).
        NDArray difference = m.expandDims(0).sub(mean.expandDims(1));
        NDArray squared = difference.mul(difference).sum(new int[] {2});
        NDArray scores = squared.mul(column(manager, halfPrecision, dataType)).neg();

        NDArray diagonal = manager.eye(batchSize, batchSize, 0, dataType);
        NDArray loss = Scalars.div(scores.logSoftmax(1).mul(diagonal).sum(), -batchSize);
        NDArray distance = m.stopGradient().sub(mean.stopGradient()).norm(new int[] {1}).mean();
        return new LossOutput(loss, Map.of("distance", distance));
    }

    /** A [B, 1] constant column in the step's manager. */
    private static NDArray column(NDManager manager, float[] values, DataType dataType) {
        return manager.create(values, new Shape(values.length, 1)).toType(dataType, false);
    }
}
