package dev.modalign.plugins.softmultilabel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.api.TowerOutput;
import dev.modalign.plugins.softmultilabel.SoftMultilabelLoss.Similarity;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The loss contract for soft-multilabel with Jaccard targets from a third tower of random multi-hot vectors. */
class SoftMultilabelLossContractTest extends AbstractLossContractTest<SoftMultilabelLoss.Params> {

    private static final int CLASSES = 6;

    @Override
    protected ComponentFactory<SoftMultilabelLoss.Params, Loss> factory() {
        return SoftMultilabelPlugin.SOFT_MULTILABEL;
    }

    @Override
    protected SoftMultilabelLoss.Params params() {
        return new SoftMultilabelLoss.Params(0.07, Similarity.JACCARD, "tags");
    }

    @Override
    protected ComponentContext context() {
        return SoftMultilabelLossTest.context(towers(), Map.of("a", embedDim(), "b", embedDim(), "tags", CLASSES));
    }

    @Override
    protected EncodedBatch batch(NDManager manager, int batchSize, float scale) {
        EncodedBatch pairs = super.batch(manager, batchSize, scale);
        Map<String, TowerOutput> towers = new LinkedHashMap<>(pairs.towers());
        NDArray multiHot = manager.randomUniform(0, 1, new Shape(batchSize, CLASSES)).lt(0.4f)
                .toType(DataType.FLOAT32, false);
        towers.put("tags", new TowerOutput(multiHot));
        return new EncodedBatch(towers, pairs.labels());
    }

    @Override
    protected List<String> towers() {
        return List.of("a", "b");
    }
}
