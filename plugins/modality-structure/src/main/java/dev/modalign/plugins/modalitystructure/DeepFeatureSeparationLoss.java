package dev.modalign.plugins.modalitystructure;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The deep feature separation loss of "Understanding and Constructing Latent Modality Structures in
 * Multi-modal Representation Learning" (Jiang et al., CVPR 2023), the paper's intra-modal regulariser:
 * besides the features a modality shares with the others (the embedding the contrastive loss aligns),
 * each tower keeps modality-specific features, and the two are held apart by an orthogonality
 * constraint, so that alignment does not wipe out what only one modality carries.
 *
 * <p>What this implementation does. Each tower's shared features are its embedding z. Its
 * modality-specific features come from a linear head W owned by the loss (one per tower, D x D, a
 * parameter the optimiser trains with the towers) applied to the tower's feature output f: the masked
 * mean of its token features when the encoder gives them (and {@code use_tokens}), else the pooled
 * embedding itself. The constraint is the difference loss of Domain Separation Networks (Bousmalis et
 * al., 2016), the squared Frobenius norm of the product of the shared and the specific feature
 * matrices, with rows L2-normalised and divided by B^2 so that it lies in [0, 1] whatever the batch:
 *
 * <pre>
 *   Z = z / ||z||,  P = (f W^T) / ||f W^T||              rows L2-normalised, [B, D] each
 *   overlap = ||Z^T P||_F^2 / B^2                          Z^T P = sum over records i of z_i p_i^T, [D, D]
 *   loss = sum over the towers named of overlap
 * </pre>
 *
 * <p>Z^T P sums, over the batch, the products of every shared feature with every specific one; it
 * vanishes when no specific feature varies together with a shared one across the records (DSN's "soft
 * subspace orthogonality"): the specific head must pick up variation the shared embedding does not
 * carry, which is the paper's separation. What differs from the paper: its towers have a second
 * projection head of their own on the backbone, trained with the model; here the head reads the tower's
 * output (tokens or embedding) and nothing but this loss trains it, so through the pooled embedding
 * alone the constraint mostly acts on how the shared embeddings spread over the batch. Token features
 * give the head more to work with. Use it beside a CLIP loss, with a small weight. Each tower's overlap
 * is logged as {@code overlap/<tower>}.
 *
 * <p>The heads start from N(0, 1 / D) drawn from a generator seeded by the run's seed and the tower's
 * position, so that the same seed gives the same run.
 */
public final class DeepFeatureSeparationLoss implements Loss {

    /** @param useTokens whether the head reads the masked mean of the tower's token features */
    public record Params(
            @Doc("Feed the modality-specific head the masked mean of the tower's token features where its encoder"
                    + " gives them (transformer); false, or an encoder without tokens, feeds it the pooled embedding."
                    + " The tokens must have the embedding's width")
            @Default("true") boolean useTokens) {}

    /** The name prefix of the heads' parameters, followed by the tower's name. */
    static final String HEAD_PREFIX = "specific_head_";

    private final List<String> towers;
    private final List<Parameter> heads;
    private final Params params;

    public DeepFeatureSeparationLoss(Params params, ComponentContext context) {
        this.towers = TowerChecks.distinct(context, "deep-feature-separation", 1, Integer.MAX_VALUE,
                "[image, text]: each tower named keeps its own modality-specific features");
        this.params = params;
        List<Parameter> heads = new ArrayList<>();
        for (int k = 0; k < towers.size(); k++) {
            String tower = towers.get(k);
            Integer dim = TowerChecks.embedDim(context, tower);
            if (dim == null) {
                throw new InvalidParamException("towers", "deep-feature-separation needs the embedding size of tower '"
                        + tower + "', which has none; fix the tower's encoder");
            }
            heads.add(Parameter.builder()
                    .setName(HEAD_PREFIX + tower)
                    .setType(Parameter.Type.WEIGHT)
                    .optShape(new Shape(dim, dim))
                    .optInitializer(new SeededNormal(context.seed() * 31 + k, 1 / Math.sqrt(dim)))
                    .build());
        }
        this.heads = List.copyOf(heads);
    }

    @Override
    public List<Parameter> parameters() {
        return heads;
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        Map<String, NDArray> metrics = new LinkedHashMap<>();
        NDArray total = null;
        for (int k = 0; k < towers.size(); k++) {
            String tower = towers.get(k);
            TowerOutput output = batch.tower(tower);
            NDArray shared = output.embedding();
            NDArray feature = feature(tower, output);
            // A copying toType stays differentiable (duplicate() detaches); attached to the step's manager, the
            // arrays derived from it die with the step.
            NDArray head = heads.get(k).getArray().toType(shared.getDataType(), true);
            head.attach(manager);
            NDArray sharedRows = Scalars.normalise(shared);
            NDArray specificRows = Scalars.normalise(feature.matMul(head.transpose()));
            NDArray product = sharedRows.transpose().matMul(specificRows); // Z^T P, [D, D]
            long batchSize = shared.getShape().get(0);
            NDArray overlap = Scalars.div(product.mul(product).sum(), (double) batchSize * batchSize);
            metrics.put("overlap/" + tower, overlap.stopGradient());
            total = total == null ? overlap : total.add(overlap);
        }
        return new LossOutput(total, metrics);
    }

    /** What the tower's specific head reads: its masked mean token feature, or its embedding. */
    private NDArray feature(String tower, TowerOutput output) {
        NDArray embedding = output.embedding();
        if (!params.useTokens() || output.tokens() == null) {
            return embedding;
        }
        NDArray tokens = output.tokens();
        long width = tokens.getShape().get(tokens.getShape().dimension() - 1);
        long dim = embedding.getShape().get(1);
        if (width != dim) {
            throw new IllegalStateException("deep-feature-separation: tower '" + tower + "' gives token features of width "
                    + width + " and embeddings of " + dim + ", and its specific head reads " + dim + " values; set"
                    + " use_tokens: false to feed it the embedding");
        }
        if (output.tokenMask() == null) {
            return tokens.mean(new int[] {1});
        }
        NDArray weights = output.tokenMask().toType(tokens.getDataType(), false).expandDims(2); // [B, T, 1]
        NDArray counts = Scalars.maximum(weights.sum(new int[] {1}), 1); // [B, 1]
        return tokens.mul(weights).sum(new int[] {1}).div(counts);
    }

    /** N(0, std^2) values from a seeded Java generator: the same seed gives the same head on any device. */
    private static final class SeededNormal implements Initializer {
        private final long seed;
        private final double std;

        SeededNormal(long seed, double std) {
            this.seed = seed;
            this.std = std;
        }

        @Override
        public NDArray initialize(NDManager manager, Shape shape, DataType dataType) {
            Random rng = new Random(seed);
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (std * rng.nextGaussian());
            }
            return manager.create(values, shape).toType(dataType, false);
        }
    }
}
