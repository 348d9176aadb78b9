package dev.modalign.plugins.clap;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.modalign.api.Scalars;

/**
 * Attentional feature fusion ("Attentional Feature Fusion", Dai et al., WACV 2021), the AFF module
 * that CLAP uses to fuse its global and local audio features: NDList(x [B, C, H, W], y [B, C, H, W])
 * to NDList(z [B, C, H, W]).
 *
 * <pre>
 *   s = x + y
 *   L(s) = BN(conv1x1(ReLU(BN(conv1x1(s)))))                     local channel context, per position
 *   G(s) = BN(conv1x1(ReLU(BN(conv1x1(global average pool(s))))))  global channel context
 *   w = sigmoid(L(s) + G(s))
 *   z = 2 x w + 2 y (1 - w)
 * </pre>
 *
 * The bottleneck has C / r channels (r = 4 in CLAP's feature_fusion.AFF); the factor 2 is theirs.
 */
final class AttentionalFeatureFusion extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int channels;
    private final int bottleneck;
    private final Conv2d localIn;
    private final BatchNorm localInNorm;
    private final Conv2d localOut;
    private final BatchNorm localOutNorm;
    private final Conv2d globalIn;
    private final BatchNorm globalInNorm;
    private final Conv2d globalOut;
    private final BatchNorm globalOutNorm;

    AttentionalFeatureFusion(int channels, int reduction) {
        super(VERSION);
        this.channels = channels;
        this.bottleneck = Math.max(1, channels / reduction);
        this.localIn = addChildBlock("local_in", pointwise(bottleneck));
        this.localInNorm = addChildBlock("local_in_norm", BatchNorm.builder().build());
        this.localOut = addChildBlock("local_out", pointwise(channels));
        this.localOutNorm = addChildBlock("local_out_norm", BatchNorm.builder().build());
        this.globalIn = addChildBlock("global_in", pointwise(bottleneck));
        this.globalInNorm = addChildBlock("global_in_norm", BatchNorm.builder().build());
        this.globalOut = addChildBlock("global_out", pointwise(channels));
        this.globalOutNorm = addChildBlock("global_out_norm", BatchNorm.builder().build());
    }

    private static Conv2d pointwise(int filters) {
        return Conv2d.builder().setKernelShape(new Shape(1, 1)).setFilters(filters).build();
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDArray y = inputs.get(1);
        NDArray sum = x.add(y);
        NDArray local = context(parameterStore, sum, localIn, localInNorm, localOut, localOutNorm, training);
        NDArray pooled = sum.mean(new int[] {3}, true).mean(new int[] {2}, true); // [B, C, 1, 1]
        NDArray global = context(parameterStore, pooled, globalIn, globalInNorm, globalOut, globalOutNorm, training);
        NDArray weight = Activation.sigmoid(local.add(global));
        NDArray fused = x.mul(weight).add(y.mul(Scalars.of(weight, 1).sub(weight)));
        return new NDList(Scalars.mul(fused, 2));
    }

    private static NDArray context(ParameterStore parameterStore, NDArray input, Conv2d in, BatchNorm inNorm,
            Conv2d out, BatchNorm outNorm, boolean training) {
        NDArray hidden = in.forward(parameterStore, new NDList(input), training).get(0);
        hidden = Activation.relu(inNorm.forward(parameterStore, new NDList(hidden), training).get(0));
        hidden = out.forward(parameterStore, new NDList(hidden), training).get(0);
        return outNorm.forward(parameterStore, new NDList(hidden), training).get(0);
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape features = inputShapes[0];
        Shape reduced = new Shape(features.get(0), bottleneck, features.get(2), features.get(3));
        Shape pooled = new Shape(features.get(0), channels, 1, 1);
        Shape pooledReduced = new Shape(features.get(0), bottleneck, 1, 1);
        localIn.initialize(manager, dataType, features);
        localInNorm.initialize(manager, dataType, reduced);
        localOut.initialize(manager, dataType, reduced);
        localOutNorm.initialize(manager, dataType, features);
        globalIn.initialize(manager, dataType, pooled);
        globalInNorm.initialize(manager, dataType, pooledReduced);
        globalOut.initialize(manager, dataType, pooledReduced);
        globalOutNorm.initialize(manager, dataType, pooled);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
