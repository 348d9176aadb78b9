package dev.modalign.plugins.gradharm;

/**
 * The gradient-based curriculum of "Scaling Multimodal Pre-Training via Cross-Modality Gradient Harmonization"
 * (Wu et al., NeurIPS 2022): the cosine between two pairwise losses' gradients is read as a measure of how well
 * the modalities of the data agree, and training first keeps only what agrees and admits conflicting data as it
 * goes on. The threshold on the cosine moves linearly from {@code start} at the first step to {@code end} at
 * {@code fraction} of the run and stays there; a step whose least cosine falls below it is down-weighted.
 *
 * <p>The paper applies it per sample triplet; here it applies per step (the batch's gradients), since the
 * trainer computes one gradient per loss term and batch, not per sample.
 *
 * @param start the threshold at step 0 (e.g. 0: drop every conflicting step at first)
 * @param end the threshold from {@code fraction} of the run on (-1: keep every step)
 * @param fraction the share of the run over which the threshold moves
 */
record ConflictCurriculum(double start, double end, double fraction) {

    /** The threshold at {@code step} of {@code totalSteps}. */
    double threshold(long step, long totalSteps) {
        double ramp = fraction * Math.max(1, totalSteps);
        double progress = ramp <= 0 ? 1 : Math.min(1, step / ramp);
        return start + (end - start) * progress;
    }

    /** Whether a step whose least pairwise gradient cosine is {@code agreement} is kept at full weight. */
    boolean keeps(double agreement, long step, long totalSteps) {
        return !(agreement < threshold(step, totalSteps));
    }
}
