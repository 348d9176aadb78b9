package dev.modalign.plugins.tcl;

import ai.djl.ndarray.NDArray;
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

/**
 * The loss contract for TCL without views (no IMC) at a fixed temperature: LMI on tower b reads b's own
 * token features, without a mask.
 */
class TclLossOwnTokensContractTest extends AbstractLossContractTest<TclLoss.Params> {

    @Override
    protected ComponentFactory<TclLoss.Params, Loss> factory() {
        return TclPlugin.TCL;
    }

    @Override
    protected TclLoss.Params params() {
        return new TclLoss.Params(0.05, false, 0.001, 0.5, Map.of(), List.of("b"), 1, 0, 0.5);
    }

    @Override
    protected EncodedBatch batch(NDManager manager, int batchSize, float scale) {
        EncodedBatch pairs = super.batch(manager, batchSize, scale);
        Map<String, TowerOutput> towers = new LinkedHashMap<>(pairs.towers());
        NDArray embedding = pairs.tower("b").embedding();
        NDArray tokens = embedding.stopGradient().expandDims(1)
                .add(manager.randomNormal(new Shape(batchSize, 3, embedDim())).mul(scale));
        tokens.setRequiresGradient(true);
        towers.put("b", new TowerOutput(embedding, tokens, null));
        return new EncodedBatch(towers, pairs.labels());
    }
}
