package dev.modalign.plugins.momentumqueue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import dev.modalign.api.Scalars;

/**
 * InfoNCE with the keys of a memory as extra negatives, MoCo's contrastive loss ("Momentum Contrast for
 * Unsupervised Visual Representation Learning", He et al., CVPR 2020, Eq. 1), optionally with the batch's
 * other keys as negatives too (as CLIP's in-batch softmax):
 *
 * <pre>
 *   q, k unit rows [B, D] (k without gradient), Q the queue [K, D]
 *   in-batch:   logits_i = [q_i . k_1, ..., q_i . k_B, q_i . Q_1, ..., q_i . Q_K] / T,  target i
 *   positive only (MoCo): logits_i = [q_i . k_i, q_i . Q_1, ..., q_i . Q_K] / T,        target 0
 *   loss = 1/B sum_i (logsumexp(logits_i) - logits_i[target])
 * </pre>
 *
 * Each row's log-sum-exp is shifted by its maximum, so small temperatures stay finite.
 */
public final class QueuedInfoNce {

    private QueuedInfoNce() {}

    /**
     * The loss of queries {@code q} [B, D] against keys {@code k} [B, D] and {@code queue} [K, D] (K may be 0),
     * all already unit rows; gradients flow into whatever of them carries one.
     */
    public static NDArray loss(NDArray q, NDArray k, NDArray queue, double temperature, boolean inBatch) {
        long batch = q.getShape().get(0);
        NDArray positives = q.mul(k).sum(new int[] {1}, true); // [B, 1]
        NDArray logits = inBatch ? q.matMul(k.transpose()) : positives;
        if (queue.getShape().get(0) > 0) {
            logits = NDArrays.concat(new NDList(logits, q.matMul(queue.transpose())), 1);
        }
        logits = Scalars.div(logits, temperature);
        NDArray top = logits.max(new int[] {1}, true).stopGradient();
        NDArray logSum = logits.sub(top).exp().sum(new int[] {1}).log().add(top.squeeze(1));
        NDArray target = Scalars.div(positives.squeeze(1), temperature);
        return Scalars.div(logSum.sub(target).sum(), batch);
    }
}
