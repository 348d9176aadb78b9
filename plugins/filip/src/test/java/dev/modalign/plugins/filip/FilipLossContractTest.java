package dev.modalign.plugins.filip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The loss contract for FILIP with a learned temperature. Each tower's token features are its embedding
 * plus noise per token, a leaf with its own gradient (FILIP reads tokens only): tower a has 6 patch
 * tokens, all real; tower b 5 word tokens, record i's padded after 1 + (i % 5).
 */
class FilipLossContractTest extends AbstractLossContractTest<FilipLoss.Params> {

    @Override
    protected ComponentFactory<FilipLoss.Params, Loss> factory() {
        return FilipPlugin.FILIP;
    }

    @Override
    protected FilipLoss.Params params() {
        return new FilipLoss.Params(0.07, true, 100);
    }

    @Override
    protected EncodedBatch batch(NDManager manager, int batchSize, float scale) {
        EncodedBatch pairs = super.batch(manager, batchSize, scale);
        Map<String, TowerOutput> towers = new LinkedHashMap<>();
        for (String tower : towers()) {
            int length = tower.equals("a") ? 6 : 5;
            NDArray embedding = pairs.tower(tower).embedding();
            NDArray tokens = embedding.expandDims(1)
                    .add(manager.randomNormal(new Shape(batchSize, length, embedDim())).mul(0.5f * scale));
            tokens.setRequiresGradient(true);
            float[] mask = new float[batchSize * length];
            for (int i = 0; i < batchSize; i++) {
                for (int k = 0; k < length; k++) {
                    mask[i * length + k] = tower.equals("a") || k <= i % length ? 1 : 0;
                }
            }
            towers.put(tower, new TowerOutput(embedding, tokens, manager.create(mask, new Shape(batchSize, length))));
        }
        return new EncodedBatch(towers, pairs.labels());
    }
}
