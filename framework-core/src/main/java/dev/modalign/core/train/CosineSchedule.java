package dev.modalign.core.train;

/**
 * Linear warm-up from 0 to the peak learning rate, then half a cosine down to {@code minRatio} of
 * the peak ("SGDR: Stochastic Gradient Descent with Warm Restarts", Loshchilov and Hutter, 2017,
 * equation 5, without restarts).
 */
record CosineSchedule(double peak, long totalSteps, long warmupSteps, double minRatio) {

    static CosineSchedule of(double peak, long totalSteps, double warmupFraction, double minRatio) {
        long warmup = Math.round(totalSteps * warmupFraction);
        return new CosineSchedule(peak, totalSteps, warmup, minRatio);
    }

    /** The learning rate for step {@code step} (from 0). */
    double at(long step) {
        if (step < warmupSteps) {
            return peak * (step + 1) / warmupSteps;
        }
        long decaySteps = Math.max(1, totalSteps - warmupSteps);
        double progress = Math.min(1.0, (double) (step - warmupSteps) / decaySteps);
        double min = peak * minRatio;
        return min + (peak - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
}
