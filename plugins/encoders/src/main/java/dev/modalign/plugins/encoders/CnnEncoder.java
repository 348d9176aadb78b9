package dev.modalign.plugins.encoders;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InvalidParamException;
import java.util.List;

/**
 * A small convolutional network for images [B, C, H, W]: one stage per entry of {@code channels},
 * each a 3x3 convolution, batch normalisation ("Batch Normalization: Accelerating Deep Network
 * Training by Reducing Internal Covariate Shift", Ioffe and Szegedy, 2015) and ReLU; every stage after
 * the first halves the resolution with a stride-2 convolution, as the stages of a ResNet do. Global
 * average pooling and a Linear projection give the embedding.
 *
 * <p>Images with a side larger than {@code max_stem_size} are reduced before the first stage works
 * on them: its convolution takes stride 2 and, where halving is not enough, an average pooling by the
 * remaining power of two goes first. The first stage has the most positions to convolve, so this
 * keeps the encoder's cost on a CPU about that of a {@code max_stem_size} image.
 *
 * <p>Patch tokens, for token-level methods (FILIP's late interaction, TCL's local features): every
 * position of the last stage's feature map [C, h, w] is one token, projected to embed_dim by the same
 * Linear as the pooled embedding, so the block returns NDList(embedding [B, E], tokens [B, h w, E],
 * mask [B, h w]) with the mask all ones. The projection is affine, so the mean of the tokens is the
 * embedding (up to rounding); the embedding itself is computed exactly as without tokens (pool, then
 * project), and the tokens add no parameter, so a seed gives the same weights and embeddings as before.
 */
public final class CnnEncoder implements Encoder {

    public static final ComponentFactory<Params, Encoder> FACTORY = ComponentFactory.of("cnn",
            "Small convolutional network: conv3x3-BN-ReLU stages, stride-2 downsampling, global average pooling",
            Params.class, CnnEncoder::new);

    /** The parameters of {@code cnn}. */
    public record Params(
            @Doc("Output channels of each stage; every stage after the first halves the resolution")
            @Default("[32, 64, 128]") List<Integer> channels,
            @Doc("Size of the output embedding") @Default("128") int embedDim,
            @Doc("The largest side the first stage works at; larger images are downsampled by it with stride 2")
            @Default("32") int maxStemSize) {

        public Params {
            if (channels == null || channels.isEmpty()) {
                throw new InvalidParamException("channels", "needs at least one stage, found "
                        + (channels == null ? "nothing" : "[]") + "; e.g. [32, 64, 128]");
            }
            for (int i = 0; i < channels.size(); i++) {
                Integer filters = channels.get(i);
                if (filters == null || filters <= 0) {
                    throw new InvalidParamException("channels", "channel counts must be > 0, found " + filters
                            + " at position " + i);
                }
            }
            channels = List.copyOf(channels);
            if (embedDim <= 0) {
                throw new InvalidParamException("embed_dim", "must be > 0, found " + embedDim);
            }
            if (maxStemSize <= 0) {
                throw new InvalidParamException("max_stem_size", "must be > 0, found " + maxStemSize);
            }
        }
    }

    private final Params params;
    private final PatchTokenSequence block;

    public CnnEncoder(Params params, ComponentContext context) {
        if (!(context.input() instanceof ImageSpec image)) {
            throw InputMismatch.of("cnn", "image", context, "use transformer or mlp");
        }
        this.params = params;
        this.block = new PatchTokenSequence();
        int reduction = 1;
        int side = Math.max(image.height(), image.width());
        while (side > params.maxStemSize()) {
            reduction *= 2;
            side = (side + 1) / 2;
        }
        if (reduction > 2) {
            // A 3x3 kernel with a stride above 2 would skip pixels; pool them instead.
            Shape window = new Shape(reduction / 2, reduction / 2);
            block.add(Pool.avgPool2dBlock(window, window, new Shape(0, 0), true));
        }
        List<Integer> channels = params.channels();
        for (int stage = 0; stage < channels.size(); stage++) {
            int stride = stage == 0 ? Math.min(reduction, 2) : 2;
            // No convolution bias: the batch norm's shift that follows makes it redundant.
            block.add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(channels.get(stage))
                    .optStride(new Shape(stride, stride)).optPadding(new Shape(1, 1)).optBias(false).build());
            block.add(BatchNorm.builder().build());
            block.add(Activation.reluBlock());
        }
        block.add(Pool.globalAvgPool2dBlock());
        block.add(Linear.builder().setUnits(params.embedDim()).build());
    }

    @Override
    public Block block() {
        return block;
    }

    @Override
    public int embedDim() {
        return params.embedDim();
    }

    @Override
    public boolean tokenFeatures() {
        return true;
    }

    /**
     * The stages, then global average pooling and the projection, as a {@link SequentialBlock} (same
     * children, parameters, initialisation and checkpoint layout), whose forward also projects every
     * position of the last feature map into a token.
     */
    static final class PatchTokenSequence extends SequentialBlock {

        @Override
        protected NDList forwardInternal(
                ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
            List<Block> children = getChildren().values();
            int stages = children.size() - 2;
            NDList current = inputs;
            for (int i = 0; i < stages; i++) {
                current = children.get(i).forward(parameterStore, current, training, params);
            }
            Block pooling = children.get(stages);
            Block projection = children.get(stages + 1);
            NDArray features = current.singletonOrThrow(); // [B, C, h, w]
            NDArray embedding = projection.forward(parameterStore,
                    pooling.forward(parameterStore, current, training, params), training, params).singletonOrThrow();
            Shape shape = features.getShape();
            long batch = shape.get(0);
            long positions = shape.get(2) * shape.get(3);
            NDArray patches = features.reshape(batch, shape.get(1), positions).transpose(0, 2, 1); // [B, h w, C]
            NDArray tokens = projection.forward(parameterStore, new NDList(patches), training, params)
                    .singletonOrThrow(); // [B, h w, E]
            NDArray mask = features.getManager().ones(new Shape(batch, positions), DataType.FLOAT32,
                    features.getDevice());
            return new NDList(embedding, tokens, mask);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            List<Block> children = getChildren().values();
            Shape[] current = inputShapes;
            for (int i = 0; i < children.size() - 2; i++) {
                current = children.get(i).getOutputShapes(current);
            }
            Shape features = current[0];
            Shape embedding = super.getOutputShapes(inputShapes)[0];
            long positions = features.get(2) * features.get(3);
            return new Shape[] {embedding, new Shape(features.get(0), positions, embedding.get(1)),
                new Shape(features.get(0), positions)};
        }
    }
}
