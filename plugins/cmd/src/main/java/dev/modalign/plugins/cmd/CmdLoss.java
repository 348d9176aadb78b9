package dev.modalign.plugins.cmd;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cross-modal mutual distillation, the loss of "CMD: Self-supervised 3D Action Representation Learning with
 * Cross-modal Mutual Distillation" (Mao et al., ECCV 2022, Section 3.3), between two towers a and b with
 * momentum copies a_m and b_m ({@code momentum_of:}). Each modality's knowledge is how a sample relates to
 * other samples: the softmax of its similarities to a memory of momentum embeddings. The momentum (teacher)
 * distribution of one modality, sharpened by a lower temperature, is distilled into the trained (student)
 * distribution of the other, in both directions, beside a contrastive term:
 *
 * <pre>
 *   u = unit rows; Ma, Mb the queues of a_m's and b_m's past unit keys, rows j of one record (lockstep)
 *   neighbours: same-modality (the paper's, Eq. 4-5)     cross-modal
 *     teacher_a_i = softmax(u(a_m)_i Ma^T / T_t)          softmax(u(a_m)_i Mb^T / T_t)
 *     student_a_i = log_softmax(u(a)_i Ma^T / T_s)        log_softmax(u(a)_i Mb^T / T_s)
 *     (b alike, with Mb and Ma swapped)
 *   distill = 1/B sum_i [ KL(teacher_a_i || student_b_i) + KL(teacher_b_i || student_a_i) ] / 2   (Eq. 6)
 *   contrastive = MoCo InfoNCE of a against b_m's keys and queue, and b against a_m's, averaged
 *   loss = contrastive + lambda * distill
 * </pre>
 *
 * <p>The paper's modalities (joint, motion, bone sequences) share one kind of data and each has its own
 * within-modality MoCo; here the contrastive term is the cross-modal one, as image and text have no
 * augmentation-based positives of their own. The teacher is detached. Before the queues hold a key, the
 * distillation term is 0. Queues are saved in checkpoints.
 */
public final class CmdLoss implements Loss {

    /** Which memory a modality's neighbour distribution is taken over. */
    public enum Neighbours {
        SAME_MODALITY,
        CROSS_MODAL
    }

    /**
     * @param temperature the contrastive term's softmax temperature
     * @param studentTemperature T_s
     * @param teacherTemperature T_t, lower than T_s
     * @param lambda the weight of the distillation term
     * @param queueSize the keys kept per momentum tower
     * @param neighbours whose memory each distribution is over
     * @param inBatch whether the contrastive term also takes the batch's other keys as negatives
     */
    public record Params(
            @Doc("Softmax temperature of the contrastive term") @Default("0.07") double temperature,
            @Doc("Temperature of the student (trained) distributions over the memory (the paper's 0.1)")
            @Default("0.1") double studentTemperature,
            @Doc("Temperature of the teacher (momentum) distributions, lower than the student's so the teacher is"
                    + " sharper (the paper's 0.05)")
            @Default("0.05") double teacherTemperature,
            @Doc("Weight lambda of the distillation term beside the contrastive one (the paper's 1)")
            @Default("1.0") double lambda,
            @Doc("The number of past keys kept in each momentum tower's queue (the paper's 16384)")
            @Default("4096") int queueSize,
            @Doc("same-modality: each tower's distribution is over its own modality's memory, as in the paper;"
                    + " cross-modal: over the other modality's memory")
            @Default("same-modality") Neighbours neighbours,
            @Doc("Also take the batch's other keys as negatives in the contrastive term")
            @Default("true") boolean inBatch) {

        public Params {
            for (Map.Entry<String, Double> t : Map.of("temperature", temperature, "student_temperature",
                    studentTemperature, "teacher_temperature", teacherTemperature).entrySet()) {
                if (!(t.getValue() > 0) || !Double.isFinite(t.getValue())) {
                    throw new InvalidParamException(t.getKey(), "must be a finite number > 0, found " + t.getValue());
                }
            }
            if (teacherTemperature > studentTemperature) {
                throw new InvalidParamException("teacher_temperature", "must not exceed student_temperature "
                        + studentTemperature + " (the teacher is the sharper distribution), found " + teacherTemperature);
            }
            if (!(lambda >= 0) || !Double.isFinite(lambda)) {
                throw new InvalidParamException("lambda", "must be a finite number >= 0, found " + lambda);
            }
            if (queueSize < 1) {
                throw new InvalidParamException("queue_size", "must be at least 1, found " + queueSize);
            }
            if (neighbours == null) {
                throw new InvalidParamException("neighbours", "must be same-modality or cross-modal, found nothing");
            }
        }
    }

    private static final String NAME = "cmd";

    private final String a;
    private final String b;
    private final String aKey;
    private final String bKey;
    private final MomentumQueue aQueue;
    private final MomentumQueue bQueue;
    private final Params params;

    public CmdLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 4 || new java.util.HashSet<>(towers).size() != 4) {
            throw new InvalidParamException("towers", NAME + " reads four different towers [a, b, a_key, b_key], found "
                    + towers + "; the key towers are momentum copies, e.g. image_m: {..., momentum_of: image}");
        }
        int dim = context.embedDim(towers.get(0));
        for (String tower : towers) {
            if (context.embedDim(tower) != dim) {
                throw new InvalidParamException("towers", NAME + " compares embeddings in one space, but tower '"
                        + towers.get(0) + "' embeds in " + dim + " dimensions and '" + tower + "' in "
                        + context.embedDim(tower) + "; give their encoders the same embed_dim");
            }
        }
        this.a = towers.get(0);
        this.b = towers.get(1);
        this.aKey = towers.get(2);
        this.bKey = towers.get(3);
        this.aQueue = new MomentumQueue(params.queueSize(), dim);
        this.bQueue = new MomentumQueue(params.queueSize(), dim);
        this.params = params;
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray ua = Scalars.normalise(batch.tower(a).embedding());
        NDArray ub = Scalars.normalise(batch.tower(b).embedding());
        NDArray uak = Scalars.normalise(batch.tower(aKey).embedding().stopGradient());
        NDArray ubk = Scalars.normalise(batch.tower(bKey).embedding().stopGradient());
        NDArray ma = aQueue.keys(manager).toType(ua.getDataType(), false);
        NDArray mb = bQueue.keys(manager).toType(ua.getDataType(), false);
        NDArray contrastive = Scalars.div(QueuedInfoNce.loss(ua, ubk, mb, params.temperature(), params.inBatch())
                .add(QueuedInfoNce.loss(ub, uak, ma, params.temperature(), params.inBatch())), 2);
        NDArray distill;
        if (aQueue.size() == 0) {
            distill = Scalars.mul(contrastive, 0).stopGradient();
        } else {
            boolean same = params.neighbours() == Neighbours.SAME_MODALITY;
            // A modality's memory for its own distributions; the other modality's for cross-modal ones.
            NDArray aMemory = same ? ma : mb;
            NDArray bMemory = same ? mb : ma;
            NDArray teacherA = softmax(uak.matMul(aMemory.transpose()), params.teacherTemperature());
            NDArray teacherB = softmax(ubk.matMul(bMemory.transpose()), params.teacherTemperature());
            NDArray studentA = logSoftmax(ua.matMul(aMemory.transpose()), params.studentTemperature());
            NDArray studentB = logSoftmax(ub.matMul(bMemory.transpose()), params.studentTemperature());
            distill = Scalars.div(kl(teacherA, studentB).add(kl(teacherB, studentA)), 2);
        }
        NDArray loss = params.lambda() == 0 ? contrastive : contrastive.add(Scalars.mul(distill, params.lambda()));
        Map<String, NDArray> metrics = new LinkedHashMap<>();
        metrics.put("contrastive", contrastive.stopGradient());
        metrics.put("distill", distill.stopGradient());
        metrics.put("queue_size", manager.create((float) aQueue.size()));
        return new LossOutput(loss, metrics);
    }

    /** Row softmax of logits / t, shifted by each row's maximum; detached (the teacher). */
    private static NDArray softmax(NDArray similarities, double t) {
        NDArray logits = Scalars.div(similarities, t).stopGradient();
        NDArray shifted = logits.sub(logits.max(new int[] {1}, true)).exp();
        return shifted.div(shifted.sum(new int[] {1}, true));
    }

    /** Row log-softmax of logits / t, shifted by each row's maximum. */
    private static NDArray logSoftmax(NDArray similarities, double t) {
        NDArray logits = Scalars.div(similarities, t);
        NDArray top = logits.max(new int[] {1}, true).stopGradient();
        NDArray shifted = logits.sub(top);
        return shifted.sub(shifted.exp().sum(new int[] {1}, true).log());
    }

    /** 1/B sum_i KL(p_i || q_i) with q given as log-probabilities; 0 log 0 = 0. */
    private static NDArray kl(NDArray p, NDArray logQ) {
        NDArray logP = p.maximum(Scalars.of(p, Float.MIN_NORMAL)).log();
        NDArray perRow = p.mul(logP.sub(logQ)).sum(new int[] {1});
        return Scalars.div(perRow.sum(), p.getShape().get(0));
    }

    /** Enqueues both momentum towers' unit keys, in lockstep so that row j of both queues is one record. */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        try (NDArray ak = Scalars.normalise(batch.tower(aKey).embedding().stopGradient());
                NDArray bk = Scalars.normalise(batch.tower(bKey).embedding().stopGradient())) {
            aQueue.enqueue(ak);
            bQueue.enqueue(bk);
        }
    }

    MomentumQueue queue(String tower) {
        return tower.equals(aKey) ? aQueue : bQueue;
    }

    @Override
    public void saveState(DataOutputStream out) throws IOException {
        aQueue.save(out);
        bQueue.save(out);
    }

    @Override
    public void loadState(DataInputStream in) throws IOException {
        aQueue.load(in);
        bQueue.load(in);
    }
}
