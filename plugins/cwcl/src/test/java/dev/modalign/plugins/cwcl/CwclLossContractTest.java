package dev.modalign.plugins.cwcl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.AbstractLossContractTest;
import dev.modalign.testkit.TestContext;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The loss contract for CWCL with a learnable temperature and a third, frozen teacher tower of its own
 * embedding size, whose rows are correlated with the second tower's as a teacher reading the same field is.
 */
class CwclLossContractTest extends AbstractLossContractTest<CwclLoss.Params> {

    private static final int TEACHER_DIM = 6;

    @Override
    protected ComponentFactory<CwclLoss.Params, Loss> factory() {
        return CwclPlugin.CWCL;
    }

    @Override
    protected CwclLoss.Params params() {
        return new CwclLoss.Params("teacher", 0.07, true, 100);
    }

    @Override
    protected ComponentContext context() {
        return TestContext.builder().optTowers(towers(), embedDim()).optEmbedDims(Map.of("teacher", TEACHER_DIM))
                .build();
    }

    @Override
    protected EncodedBatch batch(NDManager manager, int batchSize, float scale) {
        EncodedBatch pairs = super.batch(manager, batchSize, scale);
        Map<String, TowerOutput> towers = new LinkedHashMap<>(pairs.towers());
        NDArray second = pairs.tower("b").embedding();
        NDArray teacher = second.stopGradient().get(":, 0:" + TEACHER_DIM)
                .add(manager.randomNormal(new Shape(batchSize, TEACHER_DIM)).mul(0.3));
        towers.put("teacher", new TowerOutput(teacher));
        return new EncodedBatch(towers, pairs.labels());
    }

    @Override
    protected List<String> towers() {
        return List.of("a", "b");
    }
}
