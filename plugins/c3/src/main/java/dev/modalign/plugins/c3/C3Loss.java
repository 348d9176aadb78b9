package dev.modalign.plugins.c3;

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
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The collapse and corrupt steps of "Connect, Collapse, Corrupt: Learning Cross-Modal Tasks with
 * Uni-Modal Data" (Zhang, Sui and Yeung-Levy, ICLR 2024) as a contrastive term beside CLIP.
 *
 * <p>The paper explains the geometry of a contrastive space as {@code e_x - e_y = c + eps}: a constant
 * modality gap {@code c} between the modalities plus alignment noise {@code eps}. C3 removes the gap by
 * subtracting each modality's mean embedding (collapse) and trains with Gaussian noise added to the
 * embeddings (corrupt), so that what is learned does not depend on the residual misalignment. The
 * authors' code does it in this order: L2-normalise, subtract the modality mean, add noise, L2-normalise
 * again. This loss is InfoNCE on embeddings prepared that way:
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||                        rows L2-normalised (connect: the shared space)
 *   u' = u - mean(u),  v' = v - mean(v)                  collapse: per-modality centring
 *   u'' = u' + sigma n_u,  v'' = v' + sigma n_v          corrupt: n ~ N(0, I), training steps only
 *   w = u'' / ||u''||,  z = v'' / ||v''||                re-normalised
 *   loss = (CE(w z^T / tau, diag) + CE(z w^T / tau, diag)) / 2
 * </pre>
 *
 * <p>The mean is the batch's own (gradients flow through it: centring is part of the function) or,
 * with {@code centring: running}, a running mean of the normalised embeddings kept in {@link #afterStep}
 * with momentum, a constant to the gradient, like the paper's mean computed over the data set. Until
 * the first step has updated it, the batch mean stands in, detached. The running mean is state of the
 * run, not a parameter: a resumed run starts it again.
 *
 * <p>The noise is drawn in Java from the step's seeded {@link Random} (the StepContext's, itself seeded
 * from the run's seed and the step), so a run is the same for a seed on any device, and drawing it
 * does not move the engine's global generator that dropout and initialisation use. It is added only
 * when {@code context.training()}; evaluation sees the centred, noise-free embeddings.
 *
 * <p>The metric {@code modality_gap} is the distance between the two modalities' centroids of the
 * normalised embeddings before centring, ||mean(u) - mean(v)|| ("Mind the Gap", Liang et al., 2022):
 * what the collapse step removes, and what a CLIP term beside this one leaves.
 */
public final class C3Loss implements Loss {

    /** Where the mean that the collapse step subtracts comes from. */
    public enum Centring {
        /** The batch's own mean of each modality's normalised embeddings. */
        BATCH,
        /** A running mean over steps, updated after each step with momentum. */
        RUNNING
    }

    /**
     * @param temperature the softmax temperature of the contrastive term
     * @param noiseStd the standard deviation of the Gaussian noise added in training
     * @param centring batch or running mean
     * @param momentum the running mean's momentum
     */
    public record Params(
            @Doc("Softmax temperature of the InfoNCE on the centred, corrupted embeddings; logits are their cosine"
                    + " similarities divided by it")
            @Default("0.07") double temperature,
            @Doc("Standard deviation of the Gaussian noise the corrupt step adds to every coordinate of the centred"
                    + " unit embeddings in training (0: no noise). The default is the authors' code's noise_level,"
                    + " sqrt(0.016) = 0.1265, the noise variance 0.016 of CapDec (Nukrai et al., 2022) that C3 adopts")
            @Default("0.1265") double noiseStd,
            @Doc("Collapse step: subtract each modality's batch mean (batch) or a running mean over steps (running)"
                    + " from its normalised embeddings")
            @Default("batch") Centring centring,
            @Doc("Momentum of the running mean (centring: running): mean = momentum * mean + (1 - momentum) *"
                    + " batch mean after each step")
            @Default("0.99") double momentum) {

        public Params {
            if (!(temperature > 0) || !Double.isFinite(temperature)) {
                throw new InvalidParamException("temperature", "must be > 0, found " + temperature
                        + "; CLIP uses 0.07");
            }
            if (!(noiseStd >= 0) || !Double.isFinite(noiseStd)) {
                throw new InvalidParamException("noise_std", "must be a finite number >= 0, found " + noiseStd
                        + "; C3's code uses sqrt(0.016) = 0.1265, and 0 turns the corrupt step off");
            }
            if (centring == null) {
                throw new InvalidParamException("centring", "must be batch or running, found nothing");
            }
            if (!(momentum >= 0 && momentum < 1)) {
                throw new InvalidParamException("momentum", "must be in [0, 1), found " + momentum
                        + "; 0.99 averages over about 100 steps");
            }
        }
    }

    private final String firstTower;
    private final String secondTower;
    private final Params params;
    /** The running means of the two towers' normalised embeddings; null until the first afterStep. */
    private float[][] runningMeans;

    public C3Loss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "c3 reads exactly two towers, found " + towers
                    + "; name the two modalities whose gap it collapses, e.g. [image, text]");
        }
        if (towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "c3 contrasts two different towers, found " + towers);
        }
        Integer firstDim = embedDim(context, towers.get(0));
        Integer secondDim = embedDim(context, towers.get(1));
        if (firstDim != null && secondDim != null && !firstDim.equals(secondDim)) {
            throw new InvalidParamException("towers", "c3 compares embeddings in one space, but tower '" + towers.get(0)
                    + "' embeds in " + firstDim + " dimensions and '" + towers.get(1) + "' in " + secondDim
                    + "; give their encoders the same embed_dim");
        }
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.params = params;
    }

    /** A tower's embedding size, or null where the host has none (its encoder failed, reported on its own). */
    private static Integer embedDim(ComponentContext context, String tower) {
        try {
            return context.embedDim(tower);
        } catch (IllegalArgumentException | IllegalStateException e) {
            return null;
        }
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        float[] firstNoise = null;
        float[] secondNoise = null;
        if (context.training() && params.noiseStd() > 0) {
            Shape shape = batch.tower(firstTower).embedding().getShape();
            int count = Math.toIntExact(shape.size());
            Shape second = batch.tower(secondTower).embedding().getShape();
            firstNoise = standardNormal(context.rng(), count);
            secondNoise = standardNormal(context.rng(), Math.toIntExact(second.size()));
        }
        return compute(batch, context.manager(), firstNoise, secondNoise);
    }

    /**
     * The loss with the given standard normal draws for the corrupt step (each B * D values, row-major),
     * or null for none; scaled here by noise_std.
     */
    LossOutput compute(EncodedBatch batch, NDManager manager, float[] firstNoise, float[] secondNoise) {
        NDArray u = Scalars.normalise(batch.tower(firstTower).embedding());
        NDArray v = Scalars.normalise(batch.tower(secondTower).embedding());
        int batchSize = Math.toIntExact(u.getShape().get(0));
        DataType dataType = u.getDataType();

        NDArray w = Scalars.normalise(corrupt(u.sub(centre(u, 0, manager)), firstNoise, manager));
        NDArray z = Scalars.normalise(corrupt(v.sub(centre(v, 1, manager)), secondNoise, manager));
        NDArray logits = Scalars.div(w.matMul(z.transpose()), params.temperature());

        NDArray diagonal = manager.eye(batchSize, batchSize, 0, dataType);
        NDArray rows = Scalars.div(logits.logSoftmax(1).mul(diagonal).sum(), -batchSize);
        NDArray columns = Scalars.div(logits.logSoftmax(0).mul(diagonal).sum(), -batchSize);
        NDArray loss = Scalars.div(rows.add(columns), 2);
        return new LossOutput(loss, Map.of("modality_gap", modalityGap(u, v)));
    }

    /** With centring running, folds this batch's means of the normalised embeddings into the running means. */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        if (params.centring() != Centring.RUNNING) {
            return;
        }
        float[] first = batchMean(batch.tower(firstTower).embedding());
        float[] second = batchMean(batch.tower(secondTower).embedding());
        if (runningMeans == null) {
            runningMeans = new float[][] {first, second};
            return;
        }
        float momentum = (float) params.momentum();
        for (int k = 0; k < 2; k++) {
            float[] batchMean = k == 0 ? first : second;
            float[] running = runningMeans[k];
            if (running.length != batchMean.length) {
                throw new IllegalStateException("c3: tower " + (k == 0 ? firstTower : secondTower) + " changed its"
                        + " embedding size from " + running.length + " to " + batchMean.length + " between steps");
            }
            for (int j = 0; j < running.length; j++) {
                running[j] = momentum * running[j] + (1 - momentum) * batchMean[j];
            }
        }
    }

    /** Writes the running means (with centring: running, once there are any), for a checkpoint. */
    @Override
    public void saveState(DataOutputStream out) throws IOException {
        if (runningMeans == null) {
            return;
        }
        for (float[] mean : runningMeans) {
            out.writeInt(mean.length);
            for (float value : mean) {
                out.writeFloat(value);
            }
        }
    }

    @Override
    public void loadState(DataInputStream in) throws IOException {
        float[][] means = new float[2][];
        for (int k = 0; k < 2; k++) {
            means[k] = new float[in.readInt()];
            for (int j = 0; j < means[k].length; j++) {
                means[k][j] = in.readFloat();
            }
        }
        runningMeans = means;
    }

    /** The running mean of a tower (0 first, 1 second), or null before the first step; for tests. */
    float[] runningMean(int tower) {
        return runningMeans == null ? null : runningMeans[tower].clone();
    }

    /** Sets the running means, as a resumed run or a test would; for tests. */
    void setRunningMeans(float[] first, float[] second) {
        this.runningMeans = new float[][] {first.clone(), second.clone()};
    }

    /**
     * The corrupt step: {@code centred + noise_std * noise}, where noise holds standard normal draws;
     * unchanged for null. The scaled noise is a constant, so gradients pass straight through.
     */
    NDArray corrupt(NDArray centred, float[] standardNormal, NDManager manager) {
        if (standardNormal == null) {
            return centred;
        }
        float[] scaled = new float[standardNormal.length];
        for (int i = 0; i < scaled.length; i++) {
            scaled[i] = (float) (params.noiseStd() * standardNormal[i]);
        }
        NDArray noise = manager.create(scaled, centred.getShape()).toType(centred.getDataType(), false);
        return centred.add(noise);
    }

    /** {@code count} draws of N(0, 1) from the step's generator, in order. */
    static float[] standardNormal(Random rng, int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) rng.nextGaussian();
        }
        return values;
    }

    /** The mean the collapse step subtracts from tower {@code index}'s normalised embeddings, [1, D]. */
    private NDArray centre(NDArray normalised, int index, NDManager manager) {
        if (params.centring() == Centring.RUNNING) {
            if (runningMeans != null) {
                float[] mean = runningMeans[index];
                return manager.create(mean, new Shape(1, mean.length)).toType(normalised.getDataType(), false);
            }
            return normalised.mean(new int[] {0}, true).stopGradient();
        }
        return normalised.mean(new int[] {0}, true);
    }

    private static float[] batchMean(NDArray embedding) {
        NDArray detached = embedding.stopGradient();
        return Scalars.normalise(detached).mean(new int[] {0}).toType(DataType.FLOAT32, false).toFloatArray();
    }

    private static NDArray modalityGap(NDArray u, NDArray v) {
        NDArray difference = u.stopGradient().mean(new int[] {0}).sub(v.stopGradient().mean(new int[] {0}));
        return difference.norm();
    }

}
