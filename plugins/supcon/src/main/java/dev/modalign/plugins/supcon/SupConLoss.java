package dev.modalign.plugins.supcon;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DataException;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * The supervised contrastive loss L^sup_out of "Supervised Contrastive Learning" (Khosla et al.,
 * NeurIPS 2020), Eq. (2): every view is an anchor, and its positives are all other views of the same
 * class, not only the other view of its own record.
 *
 * <p>The multi-view batch is the concatenation of the named towers' L2-normalised embeddings: V
 * towers of B records give V * B views, view k * B + i being record i seen by tower k, with record
 * i's label. With two towers (an image and its caption) each record's other view is always a
 * positive, so every anchor has one, even in a batch of one.
 *
 * <pre>
 *   A(i) = every view but i,   P(i) = {p in A(i) : label(p) = label(i)}
 *   L_i  = -1 / |P(i)| * sum_{p in P(i)} log( exp(z_i . z_p / t) / sum_{a in A(i)} exp(z_i . z_a / t) )
 *   loss = (t / base_t) * mean of L_i over the anchors with |P(i)| > 0
 * </pre>
 *
 * <p>Anchors without a positive (possible with one tower only, for a record whose class has no
 * other record in the batch) are left out of the mean, since Eq. (2) divides by |P(i)|; the metric
 * {@code anchors_without_positives} counts them per batch, and a batch where no anchor has a positive
 * costs 0. {@code base_temperature} defaults to the temperature, which is Eq. (2) as printed; the
 * authors' code multiplies by t / base_t with base_t = 0.07, which only rescales the gradient.
 *
 * <p>The log-softmax over A(i) subtracts each row's maximum before exponentiating, so logits in the
 * thousands (temperature 0.001) stay finite; the anchor itself is removed from its row by a penalty
 * far below any other logit rather than by -infinity, which would turn a row with nothing else in
 * it (one tower, batch of one) into NaN.
 */
public final class SupConLoss implements Loss {

    /**
     * @param temperature the softmax temperature t
     * @param baseTemperature base_t of the scale t / base_t, or null for t (no scaling)
     */
    public record Params(
            @Doc("Softmax temperature t: logits are cosine similarities divided by it (the paper uses 0.1)")
            @Default("0.1") double temperature,
            @Doc("The loss is multiplied by temperature / base_temperature, as in the authors' code (which uses"
                    + " 0.07); empty: equal to the temperature, i.e. no scaling, Eq. (2) as printed")
            @Default("null") Double baseTemperature) {

        public Params {
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be a finite number > 0, found " + temperature
                        + "; the paper uses 0.1");
            }
            if (baseTemperature != null && (!(baseTemperature > 0) || !Double.isFinite(baseTemperature))) {
                throw new InvalidParamException("base_temperature", "must be a finite number > 0, found "
                        + baseTemperature + "; leave it out for no scaling, or 0.07 as in the authors' code");
            }
        }
    }

    /** How far below the others the anchor's own logit is pushed, in units of (1 + 1/t): exp(-1e6) is 0. */
    private static final double SELF_PENALTY = 1e6;

    private static final String NAME = "supcon";

    private final List<String> towers;
    private final double temperature;
    private final double scale;

    public SupConLoss(Params params, ComponentContext context) {
        this.towers = List.copyOf(context.towers());
        if (towers.isEmpty()) {
            throw new InvalidParamException("towers", NAME + " reads one or more towers, found none; name the"
                    + " towers whose embeddings are the views, e.g. [image, text]");
        }
        if (new HashSet<>(towers).size() != towers.size()) {
            throw new InvalidParamException("towers", NAME + " reads each tower once, found " + towers
                    + "; a tower named twice would be its own positive");
        }
        int dim = context.embedDim(towers.get(0));
        for (String tower : towers) {
            if (context.embedDim(tower) != dim) {
                throw new InvalidParamException("towers", NAME + " compares the views of all its towers in one"
                        + " space, so their embed_dim must agree; found " + towers.get(0) + ": " + dim + ", "
                        + tower + ": " + context.embedDim(tower));
            }
        }
        this.temperature = params.temperature();
        this.scale = params.baseTemperature() == null ? 1 : params.temperature() / params.baseTemperature();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray labels = requireLabels(batch, NAME);
        List<NDArray> normalised = new ArrayList<>();
        for (String tower : towers) {
            normalised.add(Scalars.normalise(batch.tower(tower).embedding()));
        }
        // NDArrays.concat of a single array returns a detached copy; one tower is its own view set.
        NDArray views = normalised.size() == 1 ? normalised.get(0) : NDArrays.concat(new NDList(normalised), 0);
        NDArray viewLabels = labels.tile(towers.size());
        DataType dataType = views.getDataType();
        int count = Math.toIntExact(views.getShape().get(0));

        NDArray identity = manager.eye(count, count, 0, dataType);
        NDArray column = viewLabels.reshape(count, 1);
        // P(i): same label, not the anchor itself (the diagonal always has the same label).
        NDArray positives = column.eq(column.transpose()).toType(dataType, false).sub(identity);
        NDArray positivesPerAnchor = positives.sum(new int[] {1});
        NDArray hasPositive = positivesPerAnchor.gt(manager.zeros(positivesPerAnchor.getShape(), dataType))
                .toType(dataType, false);

        NDArray logits = Scalars.div(views.matMul(views.transpose()), temperature);
        // A(i) excludes i: its logit goes so far below the row that exp() of it is 0.
        NDArray selfPenalty = Scalars.mul(identity, -SELF_PENALTY * (1 + 1 / temperature));
        NDArray logProbability = logits.add(selfPenalty).logSoftmax(1);
        NDArray meanOverPositives = logProbability.mul(positives).sum(new int[] {1})
                .div(positivesPerAnchor.maximum(manager.ones(positivesPerAnchor.getShape(), dataType)));
        NDArray anchors = hasPositive.sum();
        NDArray meanOverAnchors = meanOverPositives.mul(hasPositive).sum()
                .div(anchors.maximum(manager.ones(anchors.getShape(), dataType)));
        NDArray loss = Scalars.mul(meanOverAnchors, -scale);

        NDArray withoutPositives = Scalars.of(anchors, count).sub(anchors);
        return new LossOutput(loss, Map.of("anchors_without_positives", withoutPositives));
    }

    /** The batch's labels, or an error that says where they come from. */
    static NDArray requireLabels(EncodedBatch batch, String loss) {
        NDArray labels = batch.labels();
        if (labels == null) {
            throw new DataException(loss + " needs a class label for every record, and this batch has none:"
                    + " name the record field that holds each record's class index with `label:` under data.train"
                    + " (with the shapes source: label: label)");
        }
        return labels;
    }

}
