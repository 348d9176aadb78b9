package dev.modalign.plugins.clap;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.modalign.api.Scalars;
import java.util.List;
import java.util.Random;

/**
 * CLAP's audio encoder with feature fusion (Wu et al., ICASSP 2023, Section 2.3 and Figure 2) on a small
 * CNN: NDList(log-mel [B, 1, M, F], mask [B, F]) to NDList(embedding [B, E]).
 *
 * <pre>
 *   global view  [B, 1, M, W]  the whole clip resized to W frames (or, if no longer, filled up to W)
 *   local views  3 x [B, 1, M, W]  windows of W frames from the front, middle and back of the clip
 *   g = stem(global)                                           [B, C, h, w]   conv 3x3 - BN - ReLU
 *   l = concat over time of local_stem(local_c), cut or padded to w   the local stem strides 3x in time
 *   f = AFF(g, l) for clips longer than the window, g for the others     (AttentionalFeatureFusion)
 *   embedding = Linear(global average pool(stages(f)))          the remaining conv 3x3 - BN - ReLU stages
 * </pre>
 *
 * <p>As in the authors' HTS-AT, the global view passes the encoder's own first layer (their patch
 * embedding), the local windows a convolution of their own (their mel_conv2d) whose time stride packs
 * the three side by side into the global view's width, and attentional feature fusion merges the two;
 * the stages after it are the {@code cnn} encoder's (stride-2 conv 3x3, batch normalisation, ReLU), and
 * views wider than {@code max_stem_size} are average-pooled first as that encoder does.
 *
 * <p>Which frames are real comes from the mask, so a clip's views, and in evaluation (batch
 * normalisation with its running statistics) its embedding, are the same whatever the batch pads it
 * to and whatever the padding holds.
 */
final class ClapFusionBlock extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int window;
    private final boolean repeat;
    private final int melBands;
    private final int embedDim;
    private final Random random;
    private final SequentialBlock globalStem;
    private final SequentialBlock localStem;
    private final AttentionalFeatureFusion fusion;
    private final SequentialBlock stages;
    private final Linear projection;

    /**
     * @param melBands M
     * @param window W, the frames of each view
     * @param channels the output channels of the stem and of each later stage
     * @param maxStemSize the largest side the stem convolves; larger views are pooled first
     * @param repeat fill clips shorter than the window by repeating them (else with silence)
     * @param reduction AFF's bottleneck reduction r
     * @param seed where the local windows start while training
     */
    ClapFusionBlock(int melBands, int window, List<Integer> channels, int embedDim, int maxStemSize, boolean repeat,
            int reduction, long seed) {
        super(VERSION);
        this.window = window;
        this.repeat = repeat;
        this.melBands = melBands;
        this.embedDim = embedDim;
        this.random = new Random(seed);
        int scale = 1;
        int side = Math.max(melBands, window);
        while (side > maxStemSize) {
            scale *= 2;
            side = (side + 1) / 2;
        }
        int stride = Math.min(scale, 2);
        this.globalStem = addChildBlock("global_stem", stem(scale, channels.get(0), new Shape(stride, stride)));
        // Three local windows side by side in the width of one: three times the stride in time.
        this.localStem = addChildBlock("local_stem", stem(scale, channels.get(0), new Shape(stride, 3L * stride)));
        this.fusion = addChildBlock("fusion", new AttentionalFeatureFusion(channels.get(0), reduction));
        this.stages = new SequentialBlock();
        for (int stage = 1; stage < channels.size(); stage++) {
            stages.add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(channels.get(stage))
                    .optStride(new Shape(2, 2)).optPadding(new Shape(1, 1)).optBias(false).build());
            stages.add(BatchNorm.builder().build());
            stages.add(Activation.reluBlock());
        }
        stages.add(Pool.globalAvgPool2dBlock());
        addChildBlock("stages", stages);
        this.projection = addChildBlock("projection", Linear.builder().setUnits(embedDim).build());
    }

    /** Average pooling where the view is far larger than the stem works at, then conv 3x3 - BN - ReLU. */
    private static SequentialBlock stem(int scale, int filters, Shape stride) {
        SequentialBlock stem = new SequentialBlock();
        if (scale > 2) {
            Shape pool = new Shape(scale / 2, scale / 2);
            stem.add(Pool.avgPool2dBlock(pool, pool, new Shape(0, 0), true));
        }
        stem.add(Conv2d.builder().setKernelShape(new Shape(3, 3)).setFilters(filters).optStride(stride)
                .optPadding(new Shape(1, 1)).optBias(false).build());
        stem.add(BatchNorm.builder().build());
        stem.add(Activation.reluBlock());
        return stem;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        if (inputs.size() < 2) {
            throw new IllegalArgumentException(ClapFusionEncoder.NEEDS_MASK);
        }
        NDArray features = inputs.get(0); // [B, 1, M, F]
        NDArray mask = inputs.get(1); // [B, F]
        int clips = Math.toIntExact(features.getShape().get(0));
        float[] maskValues = mask.toType(DataType.FLOAT32, false).toFloatArray();
        int frames = Math.toIntExact(mask.getShape().get(1));
        int[] lengths = new int[clips];
        for (int i = 0; i < clips; i++) {
            int real = 0;
            for (int t = 0; t < frames; t++) {
                real += maskValues[i * frames + t] > 0 ? 1 : 0;
            }
            lengths[i] = real;
        }
        FusionViews views;
        synchronized (random) {
            views = FusionViews.of(lengths, window, repeat, training ? random : null);
        }
        NDArray global = view(features, views.global());
        NDList locals = new NDList(view(features, views.local(0)), view(features, views.local(1)),
                view(features, views.local(2)));

        NDArray g = globalStem.forward(parameterStore, new NDList(global), training, params).get(0); // [B, C, h, w]
        // The three windows through the local stem as one batch of 3B, then side by side in time.
        NDArray l = localStem.forward(parameterStore, new NDList(NDArrays.concat(locals, 0)), training, params).get(0);
        Shape local = l.getShape();
        l = l.reshape(3, clips, local.get(1), local.get(2), local.get(3));
        l = l.get(0).concat(l.get(1), 3).concat(l.get(2), 3); // [B, C, h, 3 w']
        long width = g.getShape().get(3);
        long have = l.getShape().get(3);
        if (have > width) {
            l = l.get(new NDIndex(":, :, :, 0:{}", width));
        } else if (have < width) {
            l = l.concat(l.getManager().zeros(new Shape(clips, local.get(1), local.get(2), width - have),
                    l.getDataType(), l.getDevice()), 3);
        }
        NDArray fused = fusion.forward(parameterStore, new NDList(g, l), training, params).get(0);
        float[] longer = new float[clips];
        for (int i = 0; i < clips; i++) {
            longer[i] = views.longer(i) ? 1f : 0f;
        }
        NDArray useFused = features.getManager().create(longer, new Shape(clips, 1, 1, 1)).toType(g.getDataType(), false);
        // Clips no longer than the window keep the global path alone, as the authors fuse only "longer" clips.
        NDArray merged = fused.mul(useFused).add(g.mul(Scalars.of(useFused, 1).sub(useFused)));
        NDArray pooled = stages.forward(parameterStore, new NDList(merged), training, params).get(0);
        return projection.forward(parameterStore, new NDList(pooled), training, params);
    }

    /** A view [B, 1, M, W] of features [B, 1, M, F]: two gathers along time, interpolated, silence where invalid. */
    private NDArray view(NDArray features, FusionViews.View view) {
        NDManager manager = features.getManager();
        long clips = features.getShape().get(0);
        Shape perFrame = new Shape(clips, 1, 1, window);
        NDArray low = manager.create(view.low(), perFrame).repeat(2, melBands);
        NDArray high = manager.create(view.high(), perFrame).repeat(2, melBands);
        NDArray weight = manager.create(view.weight(), perFrame).toType(features.getDataType(), false);
        NDArray valid = manager.create(view.valid(), perFrame).toType(features.getDataType(), false);
        NDArray lower = features.gather(low, 3);
        NDArray upper = features.gather(high, 3);
        return lower.add(upper.sub(lower).mul(weight)).mul(valid);
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        if (inputShapes.length < 2) {
            throw new IllegalArgumentException(ClapFusionEncoder.NEEDS_MASK);
        }
        long clips = inputShapes[0].get(0);
        Shape viewShape = new Shape(clips, 1, melBands, window);
        globalStem.initialize(manager, dataType, viewShape);
        localStem.initialize(manager, dataType, new Shape(3 * clips, 1, melBands, window));
        Shape stem = globalStem.getOutputShapes(new Shape[] {viewShape})[0];
        fusion.initialize(manager, dataType, stem, stem);
        stages.initialize(manager, dataType, stem);
        projection.initialize(manager, dataType, stages.getOutputShapes(new Shape[] {stem}));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), embedDim)};
    }
}
