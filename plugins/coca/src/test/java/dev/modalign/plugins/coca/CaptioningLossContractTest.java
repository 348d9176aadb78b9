package dev.modalign.plugins.coca;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

class CaptioningLossContractTest extends AbstractLossContractTest<CaptioningLoss.Params> {

    @Override
    protected ComponentFactory<CaptioningLoss.Params, Loss> factory() {
        return CocaPlugin.CAPTIONING;
    }

    @Override
    protected CaptioningLoss.Params params() {
        return new CaptioningLoss.Params(16, 1, 2, 30, 6);
    }

    @Override
    protected List<String> towers() {
        return List.of("image", "text");
    }

    /** The image tower's tokens (with gradients) and the text tower's captions as its input, of varied length. */
    @Override
    protected EncodedBatch batch(NDManager manager, int batchSize, float scale) {
        EncodedBatch pairs = super.batch(manager, batchSize, scale);
        NDArray embedding = pairs.tower("image").embedding();
        NDArray tokens = embedding.expandDims(1).add(manager.randomNormal(new Shape(batchSize, 4, embedDim())))
                .mul(scale);
        tokens.setRequiresGradient(true);
        int length = 5;
        int[] ids = new int[batchSize * length];
        float[] mask = new float[batchSize * length];
        for (int i = 0; i < batchSize; i++) {
            int real = 1 + i % length;
            for (int t = 0; t < real; t++) {
                ids[i * length + t] = t == 0 ? 1 : 4 + (i * 7 + t * 3) % 26;
                mask[i * length + t] = 1;
            }
        }
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        towers.put("image", new TowerOutput(embedding, tokens, manager.ones(new Shape(batchSize, 4))));
        towers.put("text", pairs.tower("text"));
        return new EncodedBatch(towers, pairs.labels(), null, Map.of("text", new NDList(
                manager.create(ids, new Shape(batchSize, length)), manager.create(mask, new Shape(batchSize, length)))));
    }
}
