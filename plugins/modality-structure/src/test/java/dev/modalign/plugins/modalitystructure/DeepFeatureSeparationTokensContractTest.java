package dev.modalign.plugins.modalitystructure;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The loss contract for deep-feature-separation reading token features: each tower gives [B, 5, D]
 * tokens with padding (the last two tokens of every other row masked), as a transformer does.
 */
class DeepFeatureSeparationTokensContractTest extends AbstractLossContractTest<DeepFeatureSeparationLoss.Params> {

    @Override
    protected ComponentFactory<DeepFeatureSeparationLoss.Params, Loss> factory() {
        return ModalityStructurePlugin.DEEP_FEATURE_SEPARATION;
    }

    @Override
    protected DeepFeatureSeparationLoss.Params params() {
        return new DeepFeatureSeparationLoss.Params(true);
    }

    @Override
    protected EncodedBatch batch(NDManager manager, int batchSize, float scale) {
        EncodedBatch plain = super.batch(manager, batchSize, scale);
        int length = 5;
        long[] mask = new long[batchSize * length];
        for (int i = 0; i < batchSize; i++) {
            for (int t = 0; t < length; t++) {
                mask[i * length + t] = i % 2 == 1 && t >= 3 ? 0 : 1;
            }
        }
        Map<String, TowerOutput> outputs = new LinkedHashMap<>();
        for (Map.Entry<String, TowerOutput> entry : plain.towers().entrySet()) {
            NDArray tokens = manager.randomNormal(new Shape(batchSize, length, embedDim())).mul(scale);
            tokens.setRequiresGradient(true);
            NDArray tokenMask = manager.create(mask, new Shape(batchSize, length)).toType(DataType.INT64, false);
            outputs.put(entry.getKey(), new TowerOutput(entry.getValue().embedding(), tokens, tokenMask));
        }
        return new EncodedBatch(outputs, plain.labels());
    }
}
