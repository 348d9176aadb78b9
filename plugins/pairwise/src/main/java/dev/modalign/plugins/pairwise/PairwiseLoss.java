package dev.modalign.plugins.pairwise;

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
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Pairwise contrastive learning over N towers: the (weighted) sum, over every pair of the towers it
 * names, of CLIP's symmetric InfoNCE (Radford et al., "Learning Transferable Visual Models From
 * Natural Language Supervision", 2021, Figure 3). This is how modality-pairwise objectives are built
 * when more than two signals describe the same record, e.g. audio, video and text in multimodal
 * emotion recognition, or several physiological signals and reports in multi-signal medical
 * pre-training: every pair is pulled together, none is the hub.
 *
 * <pre>
 *   u_k = e_k / ||e_k||                                 each tower's rows L2-normalised
 *   L_kl = (CE(s u_k u_l^T, diag) + CE(s u_l u_k^T, diag)) / 2,   s = exp(logit_scale)
 *   loss = sum over pairs k &lt; l (in the order the towers are named) of w_kl L_kl
 * </pre>
 *
 * <p>One temperature serves every pair. As in CLIP it may be learned as {@code logit_scale = log(1 /
 * temperature)}, clipped to log(max_logit_scale) in the forward pass and after each step. Each pair's
 * own loss is logged as the metric {@code loss/<a>-<b>}, so the pair that lags shows in the tracker.
 * The cross-entropies go through log-softmax, which stays finite for logits in the thousands.
 */
public final class PairwiseLoss implements Loss {

    /**
     * @param temperature the softmax temperature, or its initial value when learnable
     * @param learnable learn log(1 / temperature) with the towers
     * @param maxLogitScale the cap on exp(logit_scale)
     * @param weights the weight of each pair, keyed "a-b"
     * @param pairWeights the weights as a list in pair order
     */
    public record Params(
            @Doc("Softmax temperature shared by every pair: logits are cosine similarities divided by it; the initial"
                    + " value when learnable")
            @Default("0.07") double temperature,
            @Doc("Learn the temperature with the towers, as the parameter logit_scale = log(1 / temperature);"
                    + " false keeps it fixed")
            @Default("true") boolean learnable,
            @Doc("Cap on the logit scale 1 / temperature; the learned scale is clipped to it (CLIP uses 100)")
            @Default("100") double maxLogitScale,
            @Doc("Weight of each pair's loss, keyed by the two tower names joined by '-' in either order, e.g."
                    + " {image-text: 1.0, audio-text: 0.5}; a pair not named weighs 1.0")
            @Default("{}") Map<String, Double> weights,
            @Doc("The pair weights as a list in pair order instead: (1st, 2nd), (1st, 3rd), ..., (2nd, 3rd), ... of the"
                    + " towers as named; give either this or weights")
            @Default("[]") List<Double> pairWeights) {

        public Params {
            LogitScale.checkParams(temperature, maxLogitScale, "CLIP starts from 0.07", "CLIP uses 100");
            weights = weights == null ? Map.of() : Map.copyOf(weights);
            pairWeights = pairWeights == null ? List.of() : List.copyOf(pairWeights);
            for (Map.Entry<String, Double> entry : weights.entrySet()) {
                checkWeight("weights." + entry.getKey(), entry.getValue());
            }
            for (int i = 0; i < pairWeights.size(); i++) {
                checkWeight("pair_weights[" + i + "]", pairWeights.get(i));
            }
            if (!weights.isEmpty() && !pairWeights.isEmpty()) {
                throw new InvalidParamException("pair_weights", "give the pair weights either by name (weights) or"
                        + " as a list (pair_weights), not both");
            }
        }

        private static void checkWeight(String key, Double weight) {
            if (weight == null || !(weight >= 0) || !Double.isFinite(weight)) {
                throw new InvalidParamException(key, "a pair's weight must be a finite number >= 0, found " + weight);
            }
        }
    }

    /** The name of the learned parameter, as in CLIP's checkpoints. */
    static final String LOGIT_SCALE = LogitScale.NAME;

    /** Two towers, by index into {@link #towers}, and the weight of their loss. */
    record Pair(int first, int second, String name, double weight) {}

    private final List<String> towers;
    private final List<Pair> pairs;
    /** The temperature: fixed, or the learned, capped logit_scale. */
    private final LogitScale logitScale;

    public PairwiseLoss(Params params, ComponentContext context) {
        List<String> named = context.towers();
        if (named.size() < 2) {
            throw new InvalidParamException("towers", "pairwise contrasts every pair of at least two towers, found "
                    + named + "; name the towers, e.g. [image, text, audio]");
        }
        Set<String> seen = new HashSet<>();
        for (String tower : named) {
            if (!seen.add(tower)) {
                throw new InvalidParamException("towers", "pairwise names each tower once, found '" + tower
                        + "' twice in " + named + "; a tower against itself makes every row its own positive");
            }
        }
        String sized = null;
        for (String tower : named) {
            Integer dim = embedDim(context, tower);
            if (dim == null) {
                continue;
            }
            if (sized == null) {
                sized = tower;
            } else if (dim != context.embedDim(sized)) {
                throw new InvalidParamException("towers", "pairwise compares embeddings in one space, but tower '"
                        + sized + "' embeds in " + context.embedDim(sized) + " dimensions and '" + tower + "' in " + dim
                        + "; give their encoders the same embed_dim");
            }
        }
        this.towers = List.copyOf(named);
        this.pairs = pairs(towers, params);
        this.logitScale = new LogitScale(params.temperature(), params.learnable(), params.maxLogitScale());
    }

    /** A tower's embedding size, or null where the host has none (its encoder failed, reported on its own). */
    private static Integer embedDim(ComponentContext context, String tower) {
        try {
            return context.embedDim(tower);
        } catch (IllegalArgumentException | IllegalStateException e) {
            return null;
        }
    }

    /** Every pair k &lt; l of the towers in the order named, with its weight from either parameter. */
    private static List<Pair> pairs(List<String> towers, Params params) {
        List<int[]> indices = new ArrayList<>();
        for (int k = 0; k < towers.size(); k++) {
            for (int l = k + 1; l < towers.size(); l++) {
                indices.add(new int[] {k, l});
            }
        }
        List<String> names = indices.stream().map(p -> towers.get(p[0]) + "-" + towers.get(p[1])).toList();
        double[] weights = new double[indices.size()];
        Arrays.fill(weights, 1.0);
        if (!params.pairWeights().isEmpty()) {
            if (params.pairWeights().size() != indices.size()) {
                throw new InvalidParamException("pair_weights", "has " + params.pairWeights().size() + " weights but "
                        + towers.size() + " towers make " + indices.size() + " pairs, in this order: "
                        + String.join(", ", names));
            }
            for (int p = 0; p < weights.length; p++) {
                weights[p] = params.pairWeights().get(p);
            }
        }
        for (Map.Entry<String, Double> entry : params.weights().entrySet()) {
            weights[pairIndex(entry.getKey(), towers, indices, names)] = entry.getValue();
        }
        if (Arrays.stream(weights).allMatch(w -> w == 0)) {
            throw new InvalidParamException("weights", "every pair weighs 0, so the loss is constant; give at least one"
                    + " pair of " + String.join(", ", names) + " a weight > 0");
        }
        List<Pair> pairs = new ArrayList<>();
        for (int p = 0; p < indices.size(); p++) {
            pairs.add(new Pair(indices.get(p)[0], indices.get(p)[1], names.get(p), weights[p]));
        }
        return List.copyOf(pairs);
    }

    private static int pairIndex(String key, List<String> towers, List<int[]> indices, List<String> names) {
        int found = -1;
        for (int p = 0; p < indices.size(); p++) {
            String first = towers.get(indices.get(p)[0]);
            String second = towers.get(indices.get(p)[1]);
            if (key.equals(first + "-" + second) || key.equals(second + "-" + first)) {
                if (found >= 0) {
                    throw new InvalidParamException("weights." + key, "names two pairs (" + names.get(found) + " and "
                            + names.get(p) + ") because tower names contain '-'; use pair_weights, in the order "
                            + String.join(", ", names));
                }
                found = p;
            }
        }
        if (found < 0) {
            throw new InvalidParamException("weights." + key, "is not a pair of the towers " + towers
                    + "; the pairs are " + String.join(", ", names));
        }
        return found;
    }

    /** The pairs in order, with their weights; for tests and for logging. */
    List<Pair> pairs() {
        return pairs;
    }

    @Override
    public List<Parameter> parameters() {
        return logitScale.parameters();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        List<NDArray> normalised = new ArrayList<>();
        for (String tower : towers) {
            normalised.add(Scalars.normalise(batch.tower(tower).embedding()));
        }
        NDArray first = normalised.get(0);
        int batchSize = Math.toIntExact(first.getShape().get(0));
        DataType dataType = first.getDataType();
        NDArray clippedLogitScale = logitScale.clipped(manager, dataType);
        NDArray scale = clippedLogitScale.exp();
        NDArray diagonal = manager.eye(batchSize, batchSize, 0, dataType);

        Map<String, NDArray> metrics = new LinkedHashMap<>();
        NDArray total = null;
        for (Pair pair : pairs) {
            NDArray logits = normalised.get(pair.first()).matMul(normalised.get(pair.second()).transpose()).mul(scale);
            NDArray pairLoss = symmetricInfoNce(logits, diagonal, batchSize);
            metrics.put("loss/" + pair.name(), pairLoss.stopGradient());
            if (pair.weight() == 0) {
                continue;
            }
            NDArray weighted = pair.weight() == 1 ? pairLoss : Scalars.mul(pairLoss, pair.weight());
            total = total == null ? weighted : total.add(weighted);
        }
        metrics.put("temperature", clippedLogitScale.stopGradient().neg().exp());
        return new LossOutput(total, metrics);
    }

    /** Clips the learned log-scale to log(max_logit_scale) after the optimiser moved it, as CLIP does. */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        logitScale.capAfterStep();
    }

    /** (CE(S, diag) + CE(S^T, diag)) / 2, each cross-entropy the mean over rows of -log-softmax at the diagonal. */
    private static NDArray symmetricInfoNce(NDArray logits, NDArray diagonal, int batchSize) {
        NDArray rows = Scalars.div(logits.logSoftmax(1).mul(diagonal).sum(), -batchSize);
        NDArray columns = Scalars.div(logits.logSoftmax(0).mul(diagonal).sum(), -batchSize);
        return Scalars.div(rows.add(columns), 2);
    }


}
