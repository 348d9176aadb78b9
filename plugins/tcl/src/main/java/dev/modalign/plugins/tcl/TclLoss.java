package dev.modalign.plugins.tcl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.ConstantInitializer;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import dev.modalign.api.TowerOutput;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The triple contrastive objective of "Vision-Language Pre-Training with Triple Contrastive
 * Learning" (Yang et al., CVPR 2022): cross-modal alignment (CMA), intra-modal contrast (IMC) and
 * local mutual information (LMI), each an InfoNCE with one learned temperature.
 *
 * <pre>
 *   s(x, y) = &lt;x / ||x||, y / ||y||&gt; / tau,   tau = clip(temperature, min_temperature, max_temperature)
 *   CMA  = (CE over rows + CE over columns of s(a_i, b_j), targets the diagonal) / 2         image &lt;-&gt; text
 *   IMC  = mean over towers X with a view X' of  -1/B sum_i log softmax_j s(x_i, x'_j) at j = i
 *   LMI  = mean over towers X in lmi_towers of  mean over records i with locals of
 *          1/|M_i| sum_{n in M_i} -log [ e^{s(x_i, l_in)} / (e^{s(x_i, l_in)} + sum_{j != i} sum_{k in M_j} e^{s(x_i, l_jk)}) ]
 *   loss = cma_weight CMA + imc_weight IMC + lmi_weight LMI
 * </pre>
 *
 * <p>The paper's Eq. for the total adds the three terms, each the mean of its image and text parts; the
 * authors' code (models/model_pretrain.py) averages all six parts instead, which is weights 1/3.
 * Here l_jk are the token or patch features of record j, L2-normalised, and M_j its real tokens
 * (padding is in neither the numerator nor the denominator). As in the authors' in_batch_g2l_loss, a
 * global embedding's positives are its own record's locals, one at a time, and its negatives every
 * local of the other records; its own other locals are not in the denominator.
 *
 * <p>What differs from the paper, and why: TCL takes its positives, negatives and locals from momentum
 * encoders with queues of 65,536 keys (as in ALBEF). Here everything is in-batch and every term
 * trains both of its sides, as CLIP does. The second view of a modality is a tower of its own that
 * reads the same field under other augmentations, named by {@code views} (e.g. {@code {image:
 * image_view}}); IMC contrasts each tower with its view in one direction (anchor the tower, keys its
 * view), as TCL contrasts the online encoder with the momentum encoder of the augmented input. The
 * locals of a tower come from its view where it has one (TCL's come from the momentum encoder of the
 * augmented image) and from the tower itself otherwise. The ITM and MLM losses of TCL's full
 * pre-training need a fusion encoder and are not part of this loss.
 *
 * <p>Towers without token features: every tower named in {@code lmi_towers} (by default both) must
 * give tokens [B, T, D] (the transformer's words, the cnn's patches; the mlp gives none). A tower that does not is
 * an error at the first step that names the tower and the fixes (another encoder, a shorter
 * lmi_towers, or lmi_weight: 0), never a term silently left out.
 *
 * <p>The temperature is ALBEF's and TCL's: a learned scalar, initialised to 0.07 and clamped to
 * [0.001, 0.5]; the clamp is applied in the forward pass and to the parameter after each step.
 * Cross-entropies subtract the row maximum before exponentiating (log-softmax, log-sum-exp), so
 * logits of 1 / 0.001 stay finite.
 */
public final class TclLoss implements Loss {

    /**
     * @param temperature the initial (or fixed) temperature
     * @param learnable learn the temperature
     * @param minTemperature the lower clamp of the temperature
     * @param maxTemperature the upper clamp of the temperature
     * @param views each tower's second-view tower
     * @param lmiTowers the towers whose global embedding is contrasted with local features
     * @param cmaWeight the weight of CMA
     * @param imcWeight the weight of IMC
     * @param lmiWeight the weight of LMI
     */
    public record Params(
            @Doc("Softmax temperature of all three terms; the initial value when learnable (TCL and ALBEF: 0.07)")
            @Default("0.07") double temperature,
            @Doc("Learn the temperature, as the parameter 'temperature', clamped to [min_temperature, max_temperature]")
            @Default("true") boolean learnable,
            @Doc("Lower clamp of the temperature (TCL: 0.001)") @Default("0.001") double minTemperature,
            @Doc("Upper clamp of the temperature (TCL: 0.5)") @Default("0.5") double maxTemperature,
            @Doc("The second view of each of the loss's towers: a tower reading the same field under other"
                    + " augmentations, e.g. {image: image_view, text: text_view}; IMC contrasts each tower with its"
                    + " view, and LMI takes a tower's local features from its view where it has one")
            @Default("{}") Map<String, String> views,
            @Doc("The towers whose global embedding LMI contrasts with local (token or patch) features; their"
                    + " view, or they themselves, must give token features; empty: both towers")
            @Default("[]") List<String> lmiTowers,
            @Doc("Weight of cross-modal alignment (InfoNCE between the two towers)") @Default("1.0") double cmaWeight,
            @Doc("Weight of intra-modal contrast (InfoNCE between each tower and its view)") @Default("1.0")
            double imcWeight,
            @Doc("Weight of local mutual information (InfoNCE between a global embedding and its own record's local"
                    + " features against other records' locals)") @Default("1.0") double lmiWeight) {

        public Params {
            if (!(minTemperature > 0) || !Double.isFinite(minTemperature)) {
                throw new InvalidParamException("min_temperature", "must be a finite number > 0, found "
                        + minTemperature + "; TCL uses 0.001");
            }
            if (!(maxTemperature >= minTemperature) || !Double.isFinite(maxTemperature)) {
                throw new InvalidParamException("max_temperature", "must be a finite number >= min_temperature "
                        + minTemperature + ", found " + maxTemperature + "; TCL uses 0.5");
            }
            if (!(temperature >= minTemperature && temperature <= maxTemperature)) {
                throw new InvalidParamException("temperature", "must lie in [min_temperature, max_temperature] = ["
                        + minTemperature + ", " + maxTemperature + "], found " + temperature + "; TCL starts from 0.07");
            }
            checkWeight("cma_weight", cmaWeight);
            checkWeight("imc_weight", imcWeight);
            checkWeight("lmi_weight", lmiWeight);
            if (cmaWeight == 0 && imcWeight == 0 && lmiWeight == 0) {
                throw new InvalidParamException("cma_weight", "every term weighs 0, so the loss is constant; give"
                        + " cma_weight, imc_weight or lmi_weight a value > 0");
            }
            views = views == null ? Map.of() : Map.copyOf(views);
            lmiTowers = lmiTowers == null ? List.of() : List.copyOf(lmiTowers);
        }

        private static void checkWeight(String key, double weight) {
            if (!(weight >= 0) || !Double.isFinite(weight)) {
                throw new InvalidParamException(key, "must be a finite number >= 0, found " + weight);
            }
        }
    }

    /** The name of the learned parameter, as in ALBEF's and TCL's checkpoints ("temp" there). */
    static final String TEMPERATURE = "temperature";

    private final String firstTower;
    private final String secondTower;
    /** Each tower's view, in the order of the loss's towers. */
    private final Map<String, String> views;
    private final List<String> lmiTowers;
    private final double cmaWeight;
    private final double imcWeight;
    private final double lmiWeight;
    private final float initialTemperature;
    private final float minTemperature;
    private final float maxTemperature;
    /**
     * exp(-penalty) is 0 beside any real logit: scores are at most 1 / min_temperature in magnitude.
     * A masked-out candidate's logit is replaced by -penalty rather than -infinity, which would turn a
     * row without any candidate (a batch of one) into NaN.
     */
    private final double maskPenalty;
    /** The learned temperature, a float32 scalar; null when it is fixed. */
    private final Parameter temperature;

    public TclLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2 || towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "tcl aligns exactly two different towers, found " + towers
                    + "; name the image and the text tower, e.g. [image, text], and their second views with views");
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        int dim = embedDim(context, firstTower, "towers");
        if (embedDim(context, secondTower, "towers") != dim) {
            throw new InvalidParamException("towers", "tcl compares embeddings in one space, but tower '" + firstTower
                    + "' embeds in " + dim + " dimensions and '" + secondTower + "' in "
                    + context.embedDim(secondTower) + "; give their encoders the same embed_dim");
        }
        this.views = views(params.views(), towers, dim, context);
        this.lmiTowers = params.lmiTowers().isEmpty() ? List.copyOf(towers) : params.lmiTowers();
        Set<String> seen = new HashSet<>();
        for (String tower : lmiTowers) {
            if (!towers.contains(tower) || !seen.add(tower)) {
                throw new InvalidParamException("lmi_towers", "names each of the loss's towers " + towers
                        + " at most once, found " + params.lmiTowers());
            }
        }
        if (params.imcWeight() > 0 && views.isEmpty()) {
            throw new InvalidParamException("views", "intra-modal contrast (imc_weight " + params.imcWeight()
                    + ") needs a second view of at least one tower, and views is empty; add a tower that reads the"
                    + " same field under other augmentations and name it, e.g. views: {image: image_view}, or set"
                    + " imc_weight: 0");
        }
        this.cmaWeight = params.cmaWeight();
        this.imcWeight = params.imcWeight();
        this.lmiWeight = params.lmiWeight();
        this.initialTemperature = (float) params.temperature();
        this.minTemperature = (float) params.minTemperature();
        this.maxTemperature = (float) params.maxTemperature();
        this.maskPenalty = 1e6 * (1 + 1 / params.minTemperature());
        this.temperature = params.learnable()
                ? Parameter.builder()
                        .setName(TEMPERATURE)
                        .setType(Parameter.Type.OTHER)
                        .optShape(new Shape())
                        .optInitializer(new ConstantInitializer(initialTemperature))
                        .build()
                : null;
    }

    private static Map<String, String> views(Map<String, String> given, List<String> towers, int dim,
            ComponentContext context) {
        Map<String, String> views = new LinkedHashMap<>();
        Set<String> used = new HashSet<>();
        for (String tower : given.keySet()) {
            if (!towers.contains(tower)) {
                throw new InvalidParamException("views." + tower, "views are keyed by the loss's towers " + towers
                        + ", found '" + tower + "'");
            }
        }
        for (String tower : towers) {
            String view = given.get(tower);
            if (view == null) {
                continue;
            }
            String key = "views." + tower;
            if (towers.contains(view) || !used.add(view)) {
                throw new InvalidParamException(key, "a view is a tower of its own, used once, other than the loss's"
                        + " towers " + towers + ", found '" + view + "'");
            }
            if (embedDim(context, view, key) != dim) {
                throw new InvalidParamException(key, "the view '" + view + "' embeds in " + context.embedDim(view)
                        + " dimensions and '" + tower + "' in " + dim + "; give their encoders the same embed_dim");
            }
            views.put(tower, view);
        }
        return Map.copyOf(views);
    }

    private static int embedDim(ComponentContext context, String tower, String key) {
        try {
            return context.embedDim(tower);
        } catch (IllegalArgumentException e) {
            throw new InvalidParamException(key, "names no tower of this experiment, found '" + tower + "' ("
                    + e.getMessage() + "); declare it under towers:");
        }
    }

    @Override
    public List<Parameter> parameters() {
        return temperature == null ? List.of() : List.of(temperature);
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray first = Scalars.normalise(batch.tower(firstTower).embedding(), 1);
        NDArray second = Scalars.normalise(batch.tower(secondTower).embedding(), 1);
        int batchSize = Math.toIntExact(first.getShape().get(0));
        DataType dataType = first.getDataType();
        NDArray tau = clippedTemperature(manager, dataType);
        NDArray identity = manager.eye(batchSize, batchSize, 0, dataType);

        Map<String, NDArray> metrics = new LinkedHashMap<>();
        NDArray total = null;
        if (cmaWeight > 0) {
            NDArray logits = first.matMul(second.transpose()).div(tau);
            NDArray rows = logits.logSoftmax(1).mul(identity).sum();
            NDArray columns = logits.logSoftmax(0).mul(identity).sum();
            NDArray cma = Scalars.div(rows.add(columns), -2.0 * batchSize);
            metrics.put("cma", cma.stopGradient());
            total = weighted(total, cma, cmaWeight);
        }
        if (imcWeight > 0) {
            NDArray imc = null;
            for (Map.Entry<String, String> view : orderedViews()) {
                NDArray anchor = view.getKey().equals(firstTower) ? first : second;
                NDArray keys = Scalars.normalise(batch.tower(view.getValue()).embedding(), 1);
                NDArray logits = anchor.matMul(keys.transpose()).div(tau);
                NDArray term = Scalars.div(logits.logSoftmax(1).mul(identity).sum(), -batchSize);
                imc = imc == null ? term : imc.add(term);
            }
            imc = Scalars.div(imc, views.size());
            metrics.put("imc", imc.stopGradient());
            total = weighted(total, imc, imcWeight);
        }
        if (lmiWeight > 0) {
            NDArray lmi = null;
            for (String tower : lmiTowers) {
                NDArray anchor = tower.equals(firstTower) ? first : second;
                NDArray term = localMutualInformation(anchor, locals(batch, tower), tau, identity);
                lmi = lmi == null ? term : lmi.add(term);
            }
            lmi = Scalars.div(lmi, lmiTowers.size());
            metrics.put("lmi", lmi.stopGradient());
            total = weighted(total, lmi, lmiWeight);
        }
        metrics.put("temperature", tau.stopGradient());
        return new LossOutput(total, metrics);
    }

    /** The views in the order of the loss's towers (first, second), for a reproducible sum. */
    private List<Map.Entry<String, String>> orderedViews() {
        List<Map.Entry<String, String>> ordered = new ArrayList<>();
        for (String tower : List.of(firstTower, secondTower)) {
            if (views.containsKey(tower)) {
                ordered.add(Map.entry(tower, views.get(tower)));
            }
        }
        return ordered;
    }

    /** The tower whose token features are the locals of {@code tower}: its view, or itself. */
    private TowerOutput locals(EncodedBatch batch, String tower) {
        String source = views.getOrDefault(tower, tower);
        TowerOutput output = batch.tower(source);
        if (output.tokens() == null) {
            throw new IllegalStateException("tcl's local mutual information term needs token features of tower '"
                    + source + "' (the local features of '" + tower + "'), but its encoder gives none: use an encoder"
                    + " with token features there (e.g. transformer), drop '" + tower + "' from lmi_towers, or set"
                    + " lmi_weight: 0");
        }
        return output;
    }

    /**
     * LMI for one tower: anchor g [B, D] (normalised) against the locals [B, T, D] of every record.
     * Scores s_ijk = &lt;g_i, l_jk&gt; / tau; for each real local n of record i the candidates are s_iin
     * and every s_ijk with j != i and k real, as in the authors' in_batch_g2l_loss.
     */
    private NDArray localMutualInformation(NDArray anchor, TowerOutput localsOutput, NDArray tau, NDArray identity) {
        NDArray tokens = localsOutput.tokens();
        Shape shape = tokens.getShape();
        long batchSize = anchor.getShape().get(0);
        long dim = anchor.getShape().get(1);
        if (shape.dimension() != 3 || shape.get(0) != batchSize || shape.get(2) != dim) {
            throw new IllegalStateException("tcl's local mutual information term needs token features [B, T, D] = ["
                    + batchSize + ", T, " + dim + "] to match the global embedding, found " + shape
                    + "; give the token encoder the same embed_dim");
        }
        long length = shape.get(1);
        DataType dataType = anchor.getDataType();
        NDArray mask = localsOutput.tokenMask() == null
                ? identity.getManager().ones(new Shape(batchSize, length), dataType)
                : localsOutput.tokenMask().stopGradient().toType(dataType, false);
        NDArray locals = Scalars.normalise(tokens, 2);

        // [B, B, T]: s_ijk = <g_i, l_jk> / tau
        NDArray scores = anchor.matMul(locals.reshape(batchSize * length, dim).transpose())
                .reshape(batchSize, batchSize, length).div(tau);
        NDArray own = identity.expandDims(2);
        NDArray positives = scores.mul(own).sum(new int[] {1}); // [B, T]: s_iin
        NDArray negatives = Scalars.of(identity, 1).sub(identity).expandDims(2).mul(mask.expandDims(0));
        NDArray maskedOut = Scalars.mul(negatives.sub(Scalars.of(negatives, 1)), maskPenalty);
        NDArray candidates = scores.mul(negatives).add(maskedOut).reshape(batchSize, batchSize * length);
        NDArray top = candidates.max(new int[] {1}, true).stopGradient();
        NDArray negativeLogSum = candidates.sub(top).exp().sum(new int[] {1}, true).log().add(top); // [B, 1]

        // -log p_in = logaddexp(s_iin, negatives_i) - s_iin, shifted by the larger of the two.
        NDArray shift = positives.maximum(negativeLogSum).stopGradient();
        NDArray logNormaliser = positives.sub(shift).exp().add(negativeLogSum.sub(shift).exp()).log().add(shift);
        NDArray negativeLogLikelihood = logNormaliser.sub(positives).mul(mask);

        NDArray counts = mask.sum(new int[] {1});
        NDArray one = Scalars.of(counts, 1);
        NDArray perAnchor = negativeLogLikelihood.sum(new int[] {1}).div(counts.maximum(one));
        NDArray hasLocals = counts.gt(Scalars.of(counts, 0)).toType(dataType, false);
        NDArray anchors = hasLocals.sum();
        return perAnchor.mul(hasLocals).sum().div(anchors.maximum(Scalars.of(anchors, 1)));
    }

    /** Clamps the learned temperature into [min_temperature, max_temperature] after the optimiser moved it. */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        if (temperature == null) {
            return;
        }
        NDArray array = temperature.getArray();
        float value = array.getFloat();
        if (value < minTemperature || value > maxTemperature) {
            array.set(new float[] {Math.min(Math.max(value, minTemperature), maxTemperature)});
        }
    }

    /** This step's temperature, clamped inclusively (the gradient passes at the bounds), in the step's manager. */
    private NDArray clippedTemperature(NDManager manager, DataType dataType) {
        NDArray raw;
        if (temperature == null) {
            raw = manager.create(initialTemperature).toType(dataType, false);
        } else {
            // A copying toType stays differentiable (duplicate() detaches); attached to the step's manager,
            // the arrays derived from it die with the step.
            raw = temperature.getArray().toType(dataType, true);
            raw.attach(manager);
        }
        return raw.clip(minTemperature, maxTemperature);
    }

    private static NDArray weighted(NDArray total, NDArray term, double weight) {
        NDArray scaled = weight == 1 ? term : Scalars.mul(term, weight);
        return total == null ? scaled : total.add(scaled);
    }

}
