package dev.modalign.plugins.maskedcontrastive;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import dev.modalign.testkit.TestContext;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.TowerOutput;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

class MaskedPatchLossContractTest extends AbstractLossContractTest<MaskedPatchLoss.Params> {

    @Override
    protected ComponentFactory<MaskedPatchLoss.Params, Loss> factory() {
        return MaskedContrastivePlugin.MASKED_PATCH;
    }

    @Override
    protected MaskedPatchLoss.Params params() {
        return new MaskedPatchLoss.Params(2, 10.0, -2.0);
    }

    @Override
    protected List<String> towers() {
        return List.of("image", "target");
    }

    @Override
    protected ComponentContext context() {
        return TestContext.builder().optTowers(towers()).optEmbedDims(Map.of("image", embedDim(), "target", 12))
                .build();
    }

    /** 3-channel 4x4 images in 2x2 patches (4 patches of 12 values), the first two patches masked in each. */
    @Override
    protected EncodedBatch batch(NDManager manager, int batchSize, float scale) {
        NDArray target = manager.randomUniform(-1, 1, new Shape(batchSize, 3, 4, 4));
        NDArray masked = target.duplicate();
        masked.set(new NDIndex(":, :, 0:2, :"), -3f);
        NDArray embedding = manager.randomNormal(new Shape(batchSize, embedDim())).mul(scale);
        embedding.setRequiresGradient(true);
        NDArray tokens = embedding.expandDims(1).add(manager.randomNormal(new Shape(batchSize, 4, embedDim()))
                .mul(scale));
        tokens.setRequiresGradient(true);
        EncodedBatch patches = MaskedPatchLossTest.batch(manager, tokens, masked, target, 2);
        // The loss reads the image tower's tokens (the kit checks their gradient) and the target tower's tokens
        // outside the gradient; the target's embedding is not read, and the fixture lends it the image tower's so
        // that the kit's per-tower check finds a gradient there.
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        TowerOutput image = patches.tower("image");
        towers.put("image", new TowerOutput(embedding, image.tokens(), image.tokenMask()));
        towers.put("target", new TowerOutput(embedding, patches.tower("target").tokens(), null));
        return new EncodedBatch(towers, null, null, patches.inputs());
    }
}
