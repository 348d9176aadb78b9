package dev.modalign.plugins.encoders;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
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
    private final SequentialBlock block;

    public CnnEncoder(Params params, ComponentContext context) {
        if (!(context.input() instanceof ImageSpec image)) {
            throw InputMismatch.of("cnn", "image", context, "use transformer or mlp");
        }
        this.params = params;
        this.block = new SequentialBlock();
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
}
