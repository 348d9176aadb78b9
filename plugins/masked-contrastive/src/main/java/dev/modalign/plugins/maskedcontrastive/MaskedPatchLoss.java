package dev.modalign.plugins.maskedcontrastive;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
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
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * SSAST's joint discriminative and generative masked patch modelling ("SSAST: Self-Supervised Audio Spectrogram
 * Transformer", Gong et al., AAAI 2022, section 2.3, eqs. 1 to 3) on an image tower, beside a cross-modal
 * contrastive loss on the same tower (a {@code clip} entry of the experiment).
 *
 * <p>The masked tower (first) saw its input with patches masked by the {@code patch-mask} augmentation; its token
 * features h_k [B, N, D] are the encoder's outputs at the patches (the cnn's grid). The target tower (second)
 * read the same image unmasked (encoder {@code image-patches}): its tokens are the true patches x_k [B, N, P].
 * Both come from the towers, with the mask read from the masked tower's input ({@link EncodedBatch#input}, API
 * 1.3): patch k of example i is masked when every value of it is below {@code mask_below}. Two linear heads,
 * this loss's parameters, map h_k to a prediction c_k = h_k W_d + b_d and a reconstruction r_k = h_k W_g + b_g.
 * For example i with masked set M_i:
 *
 * <pre>
 *   L_d(i) = -1/|M_i| sum_{k in M_i} log( exp(c_k . x_k) / sum_{j in M_i} exp(c_k . x_j) )   (eq. 1: InfoNCE)
 *   L_g(i) =  1/|M_i| sum_{k in M_i} mean((r_k - x_k)^2)                                   (eq. 2: MSE)
 *   loss   = mean over examples with a masked patch of  L_d(i) + lambda L_g(i)             (eq. 3)
 * </pre>
 *
 * Only masked patches are scored, and each is told apart from the other masked patches of its own image, as in
 * SSAST. A batch without a masked patch (the augmentation off) gives 0. Metrics: {@code infonce}, {@code mse},
 * {@code patch_accuracy} (the share of masked patches whose prediction is closest to their own patch) and
 * {@code masked} (the share of patches masked).
 */
public final class MaskedPatchLoss implements Loss {

    /** Added to the score of a candidate that is not masked: exp of it is 0 in float32. */
    private static final float BLOCKED = -1e9f;

    /** The loss's YAML keys. */
    public record Params(
            @Doc("Side of a square patch in pixels, as the patch-mask augmentation's and the target tower's")
                    @Default("4") int patch,
            @Doc("Weight lambda of the reconstruction (MSE) term beside the InfoNCE term (SSAST eq. 3; it uses 10)")
                    @Default("10.0") double reconstructionWeight,
            @Doc("A patch of the masked tower's input is masked when all its values are below this, in the"
                    + " modality's normalised units: the default image modality maps [0, 1] to [-1, 1] and the"
                    + " patch-mask fill -1 to -3") @Default("-2.0") double maskBelow) {
        public Params {
            if (patch <= 0) {
                throw new InvalidParamException("patch", "must be > 0, found " + patch);
            }
            if (!(reconstructionWeight >= 0) || !Double.isFinite(reconstructionWeight)) {
                throw new InvalidParamException("reconstruction_weight", "must be >= 0, found " + reconstructionWeight);
            }
        }
    }

    private final Params params;
    private final String maskedTower;
    private final String targetTower;
    private final Parameter discriminativeWeight;
    private final Parameter discriminativeBias;
    private final Parameter generativeWeight;
    private final Parameter generativeBias;

    MaskedPatchLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2) {
            throw new InvalidParamException("towers", "masked-patch reads two towers, the masked one (its token"
                    + " features) and the target one (image-patches on the same field, unmasked), found " + towers);
        }
        this.params = params;
        this.maskedTower = towers.get(0);
        this.targetTower = towers.get(1);
        int hidden = context.embedDim(maskedTower);
        int patchDim = context.embedDim(targetTower);
        Random seeds = new Random(context.seed() ^ 0x55A57L);
        double bound = Math.sqrt(6.0 / (hidden + patchDim));
        discriminativeWeight = parameter("discriminative.weight", Parameter.Type.WEIGHT, new Shape(hidden, patchDim),
                uniform(bound, seeds.nextLong()));
        discriminativeBias = parameter("discriminative.bias", Parameter.Type.BIAS, new Shape(patchDim),
                new ConstantInitializer(0));
        generativeWeight = parameter("generative.weight", Parameter.Type.WEIGHT, new Shape(hidden, patchDim),
                uniform(bound, seeds.nextLong()));
        generativeBias = parameter("generative.bias", Parameter.Type.BIAS, new Shape(patchDim),
                new ConstantInitializer(0));
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(discriminativeWeight, discriminativeBias, generativeWeight, generativeBias);
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        TowerOutput masked = batch.tower(maskedTower);
        if (masked.tokens() == null) {
            throw new IllegalStateException("masked-patch predicts patches from the token features of tower '"
                    + maskedTower + "', whose encoder gives none; use one that does (cnn)");
        }
        NDArray hidden = masked.tokens(); // [B, N, D]
        NDArray targets = batch.tower(targetTower).tokens().stopGradient(); // [B, N, P]
        NDArray seen = Patches.of(batch.input(maskedTower).get(0), params.patch());
        if (seen.getShape().get(1) != hidden.getShape().get(1) || targets.getShape().get(1) != hidden.getShape().get(1)) {
            throw new IllegalStateException("tower '" + maskedTower + "' gives " + hidden.getShape().get(1)
                    + " tokens but its input has " + seen.getShape().get(1) + " patches of " + params.patch() + " px and"
                    + " tower '" + targetTower + "' " + targets.getShape().get(1) + "; the patch must match the"
                    + " encoder's token grid");
        }
        NDArray mask = mask(seen); // [B, N], 1 where masked
        NDArray perExample = mask.sum(new int[] {1}); // |M_i|
        NDArray examples = perExample.gt(0).toType(DataType.FLOAT32, false);
        NDArray denominator = perExample.maximum(1); // no gradient through the mask
        NDArray predictions = hidden.matMul(discriminativeWeight.getArray()).add(discriminativeBias.getArray());
        NDArray reconstructions = hidden.matMul(generativeWeight.getArray()).add(generativeBias.getArray());

        // Eq. 1: each masked patch's prediction against the true patches of the masked positions of its image.
        NDArray scores = predictions.matMul(targets.transpose(0, 2, 1)); // [B, N(k), N(j)]
        NDArray blocked = mask.neg().add(1).mul(BLOCKED).expandDims(1); // [B, 1, N]: candidates j not masked
        NDArray logProbabilities = scores.add(blocked).logSoftmax(-1);
        long n = hidden.getShape().get(1);
        NDArray eye = context.manager().eye((int) n).expandDims(0);
        NDArray own = logProbabilities.mul(eye).sum(new int[] {2}); // [B, N]: log p(k | k)
        NDArray infonce = own.mul(mask).sum(new int[] {1}).div(denominator).neg(); // [B]

        // Eq. 2: mean squared error of the reconstruction over the masked patches' values.
        NDArray difference = reconstructions.sub(targets);
        NDArray squared = difference.mul(difference).mean(new int[] {2}); // [B, N]
        NDArray mse = squared.mul(mask).sum(new int[] {1}).div(denominator); // [B]

        NDArray count = examples.sum().maximum(1);
        NDArray infonceMean = infonce.mul(examples).sum().div(count);
        NDArray mseMean = mse.mul(examples).sum().div(count);
        NDArray loss = infonceMean.add(Scalars.mul(mseMean, params.reconstructionWeight()));

        NDArray hits = scores.stopGradient().add(blocked).argMax(-1)
                .eq(context.manager().arange(0, n, 1, DataType.INT64).expandDims(0))
                .toType(DataType.FLOAT32, false).mul(mask).sum().div(mask.sum().maximum(1));
        return new LossOutput(loss, Map.of("infonce", infonceMean.stopGradient(), "mse", mseMean.stopGradient(),
                "patch_accuracy", hits, "masked", mask.mean()));
    }

    /** 1 for a patch [B, N, P] whose every value is below mask_below. */
    NDArray mask(NDArray patches) {
        return patches.max(new int[] {2}).lt(params.maskBelow()).toType(DataType.FLOAT32, false);
    }

    private static Parameter parameter(String name, Parameter.Type type, Shape shape, Initializer initializer) {
        return Parameter.builder().setName(name).setType(type).optShape(shape).optInitializer(initializer).build();
    }

    private static Initializer uniform(double bound, long seed) {
        return (manager, shape, dataType) -> {
            Random random = new Random(seed);
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (bound * (2 * random.nextDouble() - 1));
            }
            return manager.create(values, shape).toType(dataType, false);
        };
    }
}
