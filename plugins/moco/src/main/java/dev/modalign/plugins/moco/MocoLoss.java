package dev.modalign.plugins.moco;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import dev.modalign.plugins.momentumqueue.MomentumQueue;
import dev.modalign.plugins.momentumqueue.QueuedInfoNce;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MoCo's loss ("Momentum Contrast for Unsupervised Visual Representation Learning", He et al., CVPR 2020,
 * Eq. 1 and Algorithm 1): queries from a trained tower are contrasted with keys from a momentum tower
 * (a tower declared with {@code momentum_of:}, which the host keeps as an EMA of the trained one and runs
 * without gradient), the positive being the key of the same record and the negatives the keys of a queue of
 * the last {@code queue_size} keys, plus, by default, the batch's other keys. After each step the batch's
 * keys are enqueued and the oldest dropped. See {@link QueuedInfoNce} for the formula.
 *
 * <p>Towers, in pairs of query tower and key tower:
 * <ul>
 *   <li>{@code [q, k]}: one direction, e.g. {@code [text, text_m]} with two crops of one text (MoCo,
 *       Contriever), or {@code [image, text_m]};</li>
 *   <li>{@code [a, b, a_m, b_m]}: cross-modal and symmetric, a's rows against b_m's keys and queue, b's
 *       against a_m's, averaged (the momentum queues of ALBEF's image-text contrastive loss).</li>
 * </ul>
 * The queue holds unit-normalised keys; its state is saved in checkpoints, so a resumed run draws the same
 * negatives.
 */
public final class MocoLoss implements Loss {

    /**
     * @param temperature the softmax temperature T
     * @param queueSize K, the keys kept as negatives per key tower
     * @param inBatch whether the batch's other keys are negatives too
     */
    public record Params(
            @Doc("Softmax temperature T: logits are cosine similarities divided by it (MoCo v1 0.07, v2 0.2)")
            @Default("0.07") double temperature,
            @Doc("The number of past keys kept as negatives in each key tower's queue (MoCo 65536; keep it a few batches"
                    + " on a small data set, where old keys of a fast-moving encoder are stale)")
            @Default("4096") int queueSize,
            @Doc("Also take the batch's other keys as negatives, as CLIP's in-batch softmax; false: the positive and the"
                    + " queue only, as in MoCo")
            @Default("true") boolean inBatch) {

        public Params {
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be a finite number > 0, found " + temperature
                        + "; MoCo uses 0.07 (v1) or 0.2 (v2)");
            }
            if (queueSize < 1) {
                throw new InvalidParamException("queue_size", "must be at least 1, found " + queueSize
                        + "; MoCo keeps 65536 keys, a small data set a few batches' worth");
            }
        }
    }

    private static final String NAME = "moco";

    /** Query tower i reads against key tower i. */
    private final List<String> queryTowers = new ArrayList<>();
    private final List<String> keyTowers = new ArrayList<>();
    /** One queue per key tower, in the order of keyTowers. */
    private final List<MomentumQueue> queues = new ArrayList<>();
    private final double temperature;
    private final boolean inBatch;

    public MocoLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() == 2) {
            queryTowers.add(towers.get(0));
            keyTowers.add(towers.get(1));
        } else if (towers.size() == 4) {
            queryTowers.addAll(List.of(towers.get(0), towers.get(1)));
            keyTowers.addAll(List.of(towers.get(3), towers.get(2)));
        } else {
            throw new InvalidParamException("towers", NAME + " reads [query, key] or [a, b, a_key, b_key] towers, found "
                    + towers + "; the key towers are momentum copies, e.g. text_m: {..., momentum_of: text}");
        }
        if (new java.util.HashSet<>(towers).size() != towers.size()) {
            throw new InvalidParamException("towers", NAME + " needs different towers, found " + towers);
        }
        int dim = context.embedDim(towers.get(0));
        for (String tower : towers) {
            if (context.embedDim(tower) != dim) {
                throw new InvalidParamException("towers", NAME + " compares embeddings in one space, but tower '"
                        + towers.get(0) + "' embeds in " + dim + " dimensions and '" + tower + "' in "
                        + context.embedDim(tower) + "; give their encoders the same embed_dim");
            }
        }
        for (int i = 0; i < keyTowers.size(); i++) {
            queues.add(new MomentumQueue(params.queueSize(), dim));
        }
        this.temperature = params.temperature();
        this.inBatch = params.inBatch();
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray total = null;
        for (int i = 0; i < queryTowers.size(); i++) {
            NDArray q = Scalars.normalise(batch.tower(queryTowers.get(i)).embedding());
            // The keys carry no gradient (MoCo's k.detach()), whether or not the key tower is a momentum copy.
            NDArray k = Scalars.normalise(batch.tower(keyTowers.get(i)).embedding().stopGradient());
            NDArray term = QueuedInfoNce.loss(q, k, queues.get(i).keys(manager).toType(q.getDataType(), false),
                    temperature, inBatch);
            total = total == null ? term : total.add(term);
        }
        NDArray loss = Scalars.div(total, queryTowers.size());
        Map<String, NDArray> metrics = new LinkedHashMap<>();
        metrics.put("queue_size", manager.create((float) queues.get(0).size()));
        return new LossOutput(loss, metrics);
    }

    /** Enqueues the batch's unit keys (Algorithm 1's enqueue and dequeue). */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        for (int i = 0; i < keyTowers.size(); i++) {
            try (NDArray k = Scalars.normalise(batch.tower(keyTowers.get(i)).embedding().stopGradient())) {
                queues.get(i).enqueue(k);
            }
        }
    }

    /** The queue of key tower {@code i} (in the order [k] or [b_key, a_key]), for tests. */
    MomentumQueue queue(int i) {
        return queues.get(i);
    }

    @Override
    public void saveState(DataOutputStream out) throws IOException {
        out.writeInt(queues.size());
        for (MomentumQueue queue : queues) {
            queue.save(out);
        }
    }

    @Override
    public void loadState(DataInputStream in) throws IOException {
        int count = in.readInt();
        if (count != queues.size()) {
            throw new IOException("the checkpoint holds " + count + " queues, this loss has " + queues.size());
        }
        for (MomentumQueue queue : queues) {
            queue.load(in);
        }
    }
}
