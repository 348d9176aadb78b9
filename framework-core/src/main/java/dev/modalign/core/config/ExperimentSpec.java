package dev.modalign.core.config;

import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.InvalidParamException;
import java.util.List;
import java.util.Map;

/**
 * An experiment file, bound. The shape is in DESIGN.md and experiments/quickstart.yaml; each
 * component block ({@code type: ...}) is kept as a {@link ComponentRef} and bound to its factory's
 * parameters when the run is composed.
 */
public record ExperimentSpec(
        @Doc("The experiment's name; runs are grouped under it.") String name,
        @Doc("The seed every random choice derives from.") @Default("0") long seed,
        @Doc("Where the training and evaluation records come from.") DataSpec data,
        @Doc("Named towers, each a modality and an encoder.") Map<String, TowerSpec> towers,
        @Doc("Augmentations per tower, applied in order to training examples.") @Default("{}")
                Map<String, List<ComponentRef>> augment,
        @Doc("Losses, added by weight.") List<LossSpec> losses,
        @Doc("The optimisation.") @Default("{}") TrainSpec train,
        @Doc("Evaluators run after training (and every few epochs, where they ask).") @Default("[]") List<EvaluatorSpec> evaluate,
        @Doc("Where the run is recorded.") @Default("{}") TrackingSpec tracking,
        @Doc("Run the experiment as a sweep of trials (grid, random search, seeds) under a parent run.") @Default("null")
                SweepSpec sweep) {

    public ExperimentSpec {
        if (towers != null && towers.isEmpty()) {
            throw new InvalidParamException("towers", "declare at least one tower, e.g. image: {modality: image, encoder: cnn}");
        }
        if (losses != null && losses.isEmpty()) {
            throw new InvalidParamException("losses", "declare at least one loss, e.g. - {type: clip, towers: [image, text]}");
        }
    }

    /** The data sets: a training set and, for evaluators, a held-out evaluation set. */
    public record DataSpec(
            @Doc("The training records.") DatasetSpec train,
            @Doc("The held-out evaluation records.") @Default("null") DatasetSpec eval) {}

    /** A dataset source with the framework's keys: which field feeds which tower, and the label. */
    public record DatasetSpec(
            @Doc("Tower name to the record field it reads; by default each tower reads the field of its own name.")
                    @Default("{}") Map<String, String> fields,
            @Doc("The record field holding a class label, if any.") @Default("null") String label,
            @Doc("Read only one part of the source: all, or train, validation or test, each record's part chosen by a "
                    + "seeded hash of its id (disjoint parts, stable when records are added or reordered).")
                    @Default("all") String split,
            @Doc("Fractions of the records in train, validation and test, summing to 1 (with split).")
                    @Default("[0.8, 0.1, 0.1]") List<Double> splitFractions,
            @Doc("Seed of the split's hash, independent of the run's seed: keep it the same for every part.")
                    @Default("0") long splitSeed,
            @Doc("The source: its type (manifest, shapes, ...) and parameters.") @Inline(typeKey = "source") ComponentRef source) {

        public DatasetSpec {
            split = split == null ? "all" : split;
            splitFractions = splitFractions == null ? List.of(0.8, 0.1, 0.1) : List.copyOf(splitFractions);
        }
    }

    /** A tower: a modality and an encoder. */
    public record TowerSpec(
            @Doc("The modality: how raw fields become examples and batches.") ComponentRef modality,
            @Doc("The encoder: maps a batch to embeddings.") ComponentRef encoder,
            @Doc("Keep the encoder's weights fixed (out of the optimiser).") @Default("false") boolean frozen,
            @Doc("Start the encoder from a checkpoint: a .params file or a run directory (its "
                    + "artifacts/checkpoint/<tower>.params), run:<run id>[/<tower>] (a run of the tracker, the same tower "
                    + "name unless given), stage:<stage>[/<tower>] (an earlier stage of this file), or "
                    + "torchscript:<file.pt> (a TorchScript module that becomes the tower's encoder, frozen: it takes the "
                    + "modality's batch and returns [B, embed_dim] of the encoder declared).") @Default("null")
                    String initFrom,
            @Doc("Make this tower the momentum (EMA) copy of the named tower, as MoCo's key encoder (\"Momentum "
                    + "Contrast for Unsupervised Visual Representation Learning\", He et al., CVPR 2020, Eq. 2): its "
                    + "encoder, of the same type and parameters, starts from that tower's weights, stays out of the "
                    + "optimiser, encodes without gradient, and after each step becomes m x itself + (1 - m) x the "
                    + "tower's. It reads the tower's record field unless data.fields names another.") @Default("null")
                    String momentumOf,
            @Doc("The momentum m of momentum_of, in [0, 1): 0 copies the tower each step; MoCo uses 0.999.")
                    @Default("0.999") double momentum) {

        public TowerSpec {
            if (!(momentum >= 0 && momentum < 1)) {
                throw new InvalidParamException("momentum", "must be in [0, 1), found " + momentum
                        + "; MoCo uses 0.999, shorter runs 0.99");
            }
        }
    }

    /** A loss with the framework's keys. */
    public record LossSpec(
            @Doc("The towers this loss reads.") List<String> towers,
            @Doc("Its weight in the sum of losses.") @Default("1.0") double weight,
            @Doc("The loss: its type and parameters.") @Inline ComponentRef loss) {

        public LossSpec {
            if (!Double.isFinite(weight)) {
                throw new InvalidParamException("weight", "must be a finite number, found " + weight);
            }
        }
    }

    /** An evaluator with the framework's keys. */
    public record EvaluatorSpec(
            @Doc("The towers it evaluates.") @Default("[]") List<String> towers,
            @Doc("Also evaluate every this many epochs during training, logged at the epoch's last step (0: only "
                    + "after training).") @Default("0") int every,
            @Doc("The evaluator: its type and parameters.") @Inline ComponentRef evaluator) {

        public EvaluatorSpec {
            if (every < 0) {
                throw new InvalidParamException("every", "is a number of epochs, 0 (only after training) or more, found "
                        + every);
            }
        }
    }

    /** The optimisation settings. */
    public record TrainSpec(
            @Doc("Passes over the training set.") @Default("1") int epochs,
            @Doc("Stop after this many steps (0: run all epochs).") @Default("0") long maxSteps,
            @Doc("Records per step.") @Default("128") int batchSize,
            @Doc("The optimiser.") @Default("{}") OptimizerSpec optimizer,
            @Doc("Linear warm-up as a fraction of all steps, then cosine decay to min_lr_ratio x lr.")
                    @Default("0.05") double warmup,
            @Doc("The learning rate at the end of the cosine, as a fraction of lr.") @Default("0.0") double minLrRatio,
            @Doc("Clip the global gradient norm to this value (0: no clipping).") @Default("1.0") double gradClip,
            @Doc("Threads that load and augment batches ahead of the step.") @Default("2") int workers,
            @Doc("Log training metrics every this many steps.") @Default("10") int logEvery,
            @Doc("Drop the last, incomplete batch of an epoch.") @Default("true") boolean dropLast,
            @Doc("Where to train: auto (a GPU when there is one), cpu or gpu.") @Default("auto") String device,
            @Doc("PyTorch threads on CPU. 1 makes CPU runs bit-exact for a seed (multi-threaded kernels reduce in "
                    + "varying order); 0 lets PyTorch use every core.") @Default("1") int threads,
            @Doc("A record that fails to read or decode (a corrupt image, a truncated WAV): fail the run naming it, or "
                    + "skip it; skipped records are counted, the first few named, and the count is logged.")
                    @Default("fail") String onDataError,
            @Doc("When to write a resumable checkpoint (model, optimiser, schedule, loss state, data position): epoch "
                    + "(after every epoch), a number of steps, or end (only the final one); the final one is always "
                    + "written.") @Default("epoch") String checkpointEvery,
            @Doc("How many of the newest checkpoints to keep.") @Default("2") int keepCheckpoints,
            @Doc("A step whose inputs, loss or gradients are NaN or infinite: fail the run naming the step, tower and "
                    + "loss, or skip the step (no update) up to max_skipped_steps times.") @Default("fail") String onNonfinite,
            @Doc("With on_nonfinite: skip, the run fails at the first non-finite step beyond this many.")
                    @Default("10") int maxSkippedSteps,
            @Doc("A gradient policy (e.g. gradharm): each loss term is back-propagated on its own and the policy "
                    + "combines the per-term gradients into the one the optimiser applies. None: the weighted sum "
                    + "of the losses is back-propagated once.") @Default("null") ComponentRef gradient) {

        public TrainSpec {
            if (epochs < 1) {
                throw new InvalidParamException("epochs", "must be at least 1, found " + epochs);
            }
            if (batchSize < 1) {
                throw new InvalidParamException("batch_size", "must be at least 1, found " + batchSize);
            }
            if (warmup < 0 || warmup >= 1) {
                throw new InvalidParamException("warmup", "is a fraction of the steps in [0, 1), found " + warmup);
            }
            if (workers < 0) {
                throw new InvalidParamException("workers", "must be 0 or more, found " + workers);
            }
            if (logEvery < 1) {
                throw new InvalidParamException("log_every", "must be at least 1, found " + logEvery);
            }
            if (threads < 0) {
                throw new InvalidParamException("threads", "must be 0 (all cores) or more, found " + threads);
            }
            if (!List.of("fail", "skip").contains(onDataError)) {
                throw new InvalidParamException("on_data_error", "must be fail or skip, found '" + onDataError + "'");
            }
            checkpointEvery = checkpointEvery == null ? "epoch" : checkpointEvery.trim();
            if (!checkpointEvery.equals("epoch") && !checkpointEvery.equals("end") && !isPositiveInteger(checkpointEvery)) {
                throw new InvalidParamException("checkpoint_every", "must be epoch, end or a number of steps >= 1, found '"
                        + checkpointEvery + "'");
            }
            if (keepCheckpoints < 1) {
                throw new InvalidParamException("keep_checkpoints", "must be at least 1, found " + keepCheckpoints);
            }
            onNonfinite = onNonfinite == null ? "fail" : onNonfinite;
            if (!List.of("fail", "skip").contains(onNonfinite)) {
                throw new InvalidParamException("on_nonfinite", "must be fail or skip, found '" + onNonfinite + "'");
            }
            if (maxSkippedSteps < 0) {
                throw new InvalidParamException("max_skipped_steps", "must be 0 or more, found " + maxSkippedSteps);
            }
            if (!List.of("auto", "cpu", "gpu").contains(device)) {
                throw new InvalidParamException("device", "must be auto, cpu or gpu, found '" + device + "'");
            }
        }
    }

    private static boolean isPositiveInteger(String text) {
        try {
            return Long.parseLong(text.replace("_", "")) >= 1;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** AdamW ("Decoupled Weight Decay Regularization", Loshchilov and Hutter, 2019). */
    public record OptimizerSpec(
            @Doc("The optimiser; adamw is the one there is.") @Default("adamw") String type,
            @Doc("Peak learning rate.") @Default("1e-3") double lr,
            @Doc("Decoupled weight decay, applied to weight matrices only.") @Default("0.1") double weightDecay,
            @Doc("Adam's beta1.") @Default("0.9") double beta1,
            @Doc("Adam's beta2 (CLIP uses 0.98).") @Default("0.98") double beta2,
            @Doc("Adam's epsilon.") @Default("1e-6") double eps) {

        public OptimizerSpec {
            if (!"adamw".equals(type)) {
                throw new InvalidParamException("type", "unknown optimiser '" + type + "'; the optimiser is adamw");
            }
            if (!(lr > 0)) {
                throw new InvalidParamException("lr", "must be > 0, found " + lr);
            }
            if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) {
                throw new InvalidParamException("beta1", "betas are in [0, 1), found " + beta1 + ", " + beta2);
            }
        }
    }

    /** Where the run is recorded. */
    public record TrackingSpec(
            @Doc("A tracking server URI (http://127.0.0.1:5000); empty: the embedded local store.") @Default("null")
                    String uri,
            @Doc("The experiment name in the tracker; defaults to the experiment's name.") @Default("null")
                    String experiment,
            @Doc("The run's name; defaults to the experiment's name and a time stamp.") @Default("null") String runName,
            @Doc("The id of a parent run this run belongs to (a sweep sets it for its trials).") @Default("null")
                    String parentRun,
            @Doc("The embedded store's directory, relative to the current directory.") @Default("runs") String dir,
            @Doc("Parameters of the tracker plugin that serves the URI (e.g. timeouts of mlflow).") @Default("{}")
                    Map<String, org.yaml.snakeyaml.nodes.Node> options) {}
}
