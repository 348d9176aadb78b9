package dev.modalign.plugins.look;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
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
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * LOOK, the leave-one-out k-nearest-neighbour loss of "Rethinking Supervised Pre-training for Better
 * Downstream Transferring" (Feng, Jiang, Tang, Jin and Gao, ICLR 2022). Cross-entropy and SupCon pull
 * every sample of a class together, even where a class holds visually different kinds (a football
 * helmet on a shelf and in a match); LOOK only asks each sample to share its class with most of its k
 * nearest neighbours: it classifies the sample by a similarity-weighted vote of its k nearest neighbours,
 * itself left out, and minimises the negative log of its own class's share, so a class may keep several
 * modes.
 *
 * <p>The samples are the views of a batch, as in SupCon: every named tower's L2-normalised embeddings (V
 * towers of B records give V * B views, view k * B + i being record i seen by tower k, with record i's
 * label). Neighbours are found among the batch's other views, across towers:
 *
 * <pre>
 *   A(a) = every view but a                                  leave one out
 *   K(a) = the k views of A(a) most similar to a             chosen without gradient; ties to the lower index
 *   C(a) = {j in K(a) : label(j) = label(a)}
 *   if C(a) is empty but A(a) holds a view of a's class:  K(a) += {m}, C(a) = {m}, m that view most similar to a
 *   L_a  = -log( sum_{c in C(a)} exp(z_a . z_c / t) / sum_{j in K(a)} exp(z_a . z_j / t) )
 *   loss = mean of L_a over the anchors whose class has another view in the batch
 * </pre>
 *
 * <p>What is this implementation's rather than the paper's: neighbours come from the batch, where the
 * paper searches a memory of the whole data set (its "efficient implementation"); and an anchor none of
 * whose k neighbours shares its class, whose vote gives its class nothing (-log 0), gets its nearest
 * class-mate added to its neighbourhood, so that it learns to pull one in rather than giving an infinite
 * or a gradient-free loss. Anchors whose class has no other view in the batch (possible with one tower)
 * are left out, and counted in the metric {@code anchors_without_classmates}; {@code
 * anchors_with_added_classmate} counts the others, and {@code neighbour_agreement} is the mean share of
 * an anchor's k nearest neighbours in its class (the leave-one-out kNN purity LOOK raises).
 *
 * <p>The log-sums subtract each row's maximum before exponentiating, so logits in the thousands
 * (temperature 0.001) stay finite; views outside a set are pushed far below every logit rather than to
 * -infinity, which keeps an empty set finite.
 */
public final class LookLoss implements Loss {

    /**
     * @param temperature the temperature t of the vote's weights exp(z_a . z_j / t)
     * @param k how many nearest neighbours vote
     */
    public record Params(
            @Doc("Temperature t of the vote: a neighbour's weight is exp(cosine similarity / t)") @Default("0.1")
            double temperature,
            @Doc("How many nearest neighbours (among the batch's other views) vote on a view's class; below the"
                    + " views a class has per batch, so that a class may keep several modes")
            @Default("5") int k) {

        public Params {
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be a finite number > 0, found " + temperature);
            }
            if (k < 1) {
                throw new InvalidParamException("k", "must be at least 1, found " + k
                        + "; it is how many nearest neighbours vote on each view's class");
            }
        }
    }

    private static final String NAME = "look";

    /** How far below the others a view outside a set is pushed, in units of (1 + 1/t): exp(-1e6) is 0. */
    private static final double OUTSIDE_PENALTY = 1e6;

    private final List<String> towers;
    private final double temperature;
    private final int k;

    public LookLoss(Params params, ComponentContext context) {
        this.towers = List.copyOf(context.towers());
        if (towers.isEmpty()) {
            throw new InvalidParamException("towers", NAME + " reads one or more towers, found none; name the"
                    + " towers whose embeddings are the views, e.g. [image, text]");
        }
        if (new HashSet<>(towers).size() != towers.size()) {
            throw new InvalidParamException("towers", NAME + " reads each tower once, found " + towers
                    + "; a tower named twice would be its own nearest neighbour");
        }
        int dim = context.embedDim(towers.get(0));
        for (String tower : towers) {
            if (context.embedDim(tower) != dim) {
                throw new InvalidParamException("towers", NAME + " looks for neighbours among the views of all its"
                        + " towers in one space, so their embed_dim must agree; found " + towers.get(0) + ": " + dim
                        + ", " + tower + ": " + context.embedDim(tower));
            }
        }
        this.temperature = params.temperature();
        this.k = params.k();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray labels = batch.labels();
        if (labels == null) {
            throw new DataException(NAME + " needs a class label for every record, and this batch has none: name the"
                    + " record field that holds each record's class index with `label:` under data.train");
        }
        List<NDArray> normalised = new ArrayList<>();
        for (String tower : towers) {
            normalised.add(Scalars.normalise(batch.tower(tower).embedding()));
        }
        // NDArrays.concat of a single array returns a detached copy; one tower is its own view set.
        NDArray views = normalised.size() == 1 ? normalised.get(0) : NDArrays.concat(new NDList(normalised), 0);
        DataType dataType = views.getDataType();
        int count = Math.toIntExact(views.getShape().get(0));
        long[] viewLabels = tile(labels.toLongArray(), towers.size());

        NDArray similarity = views.matMul(views.transpose());
        Neighbourhoods chosen = Neighbourhoods.choose(
                similarity.stopGradient().toType(DataType.FLOAT32, false).toFloatArray(), viewLabels, count, k);

        Shape square = new Shape(count, count);
        NDArray neighbours = manager.create(chosen.neighbours(), square).toType(dataType, false);
        NDArray classmates = manager.create(chosen.classmates(), square).toType(dataType, false);
        NDArray counted = manager.create(chosen.counted()).toType(dataType, false);
        NDArray logits = Scalars.div(similarity, temperature);
        NDArray perAnchor = logSumExp(logits, neighbours).sub(logSumExp(logits, classmates));
        NDArray loss = Scalars.div(perAnchor.mul(counted).sum(), Math.max(1, chosen.countedAnchors()));

        return new LossOutput(loss, Map.of(
                "anchors_without_classmates", Scalars.of(loss, count - chosen.countedAnchors()),
                "anchors_with_added_classmate", Scalars.of(loss, chosen.addedClassmates()),
                "neighbour_agreement", Scalars.of(loss, chosen.agreement())));
    }

    /**
     * log sum_{j in the mask's set} exp(x_aj) per row, [M]. Views outside the set are pushed down by
     * 1e6 (1 + 1/t), below any logit; a row with an empty set gives the same finite value for any mask.
     */
    private NDArray logSumExp(NDArray logits, NDArray mask) {
        double penalty = -OUTSIDE_PENALTY * (1 + 1 / temperature);
        NDArray inside = logits.add(Scalars.mul(Scalars.of(mask, 1).sub(mask), penalty));
        NDArray top = inside.max(new int[] {1}, true).stopGradient();
        return inside.sub(top).exp().sum(new int[] {1}, true).log().add(top).squeeze(1);
    }

    private static long[] tile(long[] labels, int times) {
        long[] tiled = new long[labels.length * times];
        for (int t = 0; t < times; t++) {
            System.arraycopy(labels, 0, tiled, t * labels.length, labels.length);
        }
        return tiled;
    }

    /**
     * The neighbourhoods chosen from the similarities, as 0/1 masks over [M, M] (row-major): K (with the
     * nearest class-mate added where needed), C, and which anchors count.
     */
    record Neighbourhoods(float[] neighbours, float[] classmates, float[] counted, int countedAnchors,
            int addedClassmates, double agreement) {

        static Neighbourhoods choose(float[] similarity, long[] labels, int count, int k) {
            float[] neighbours = new float[count * count];
            float[] classmates = new float[count * count];
            float[] counted = new float[count];
            int countedAnchors = 0;
            int added = 0;
            double agreement = 0;
            int voters = Math.min(k, count - 1);
            for (int a = 0; a < count; a++) {
                final int row = a * count;
                Integer[] others = new Integer[count - 1];
                for (int j = 0, n = 0; j < count; j++) {
                    if (j != a) {
                        others[n++] = j;
                    }
                }
                // Most similar first, equal similarities in index order (the sort is stable).
                Arrays.sort(others, Comparator.comparingDouble((Integer j) -> -similarity[row + j]));
                int nearestClassmate = -1;
                for (Integer j : others) {
                    if (labels[j] == labels[a]) {
                        nearestClassmate = j;
                        break;
                    }
                }
                if (nearestClassmate < 0) {
                    // No class-mate in the batch: K = C (both empty), so the anchor's term is exactly 0.
                    continue;
                }
                counted[a] = 1;
                countedAnchors++;
                int hits = 0;
                for (int n = 0; n < voters; n++) {
                    int j = others[n];
                    neighbours[row + j] = 1;
                    if (labels[j] == labels[a]) {
                        classmates[row + j] = 1;
                        hits++;
                    }
                }
                if (hits == 0) {
                    neighbours[row + nearestClassmate] = 1;
                    classmates[row + nearestClassmate] = 1;
                    added++;
                }
                agreement += (double) hits / Math.max(1, voters);
            }
            return new Neighbourhoods(neighbours, classmates, counted, countedAnchors, added,
                    countedAnchors == 0 ? 0 : agreement / countedAnchors);
        }
    }
}
