package dev.modalign.plugins.tcl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.Loss;
import dev.modalign.api.TowerOutput;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The loss contract for TCL with all three terms and a learnable temperature: towers a and b, each with a
 * view tower whose output carries token features [B, 5, D] (the second view's tokens padded past a
 * per-record length), so LMI reads locals from the views.
 */
class TclLossContractTest extends AbstractLossContractTest<TclLoss.Params> {

    private static final int LENGTH = 5;

    @Override
    protected ComponentFactory<TclLoss.Params, Loss> factory() {
        return TclPlugin.TCL;
    }

    @Override
    protected TclLoss.Params params() {
        return new TclLoss.Params(0.07, true, 0.001, 0.5, Map.of("a", "a_view", "b", "b_view"), List.of(), 1, 1, 1);
    }

    @Override
    protected ComponentContext context() {
        return TclLossTest.context(towers(), Map.of("a", embedDim(), "b", embedDim(), "a_view", embedDim(),
                "b_view", embedDim()));
    }

    @Override
    protected EncodedBatch batch(NDManager manager, int batchSize, float scale) {
        EncodedBatch pairs = super.batch(manager, batchSize, scale);
        Map<String, TowerOutput> towers = new LinkedHashMap<>(pairs.towers());
        for (String tower : towers()) {
            NDArray base = pairs.tower(tower).embedding().stopGradient();
            NDArray view = base.add(manager.randomNormal(new Shape(batchSize, embedDim())).mul(0.5f * scale));
            NDArray tokens = base.expandDims(1)
                    .add(manager.randomNormal(new Shape(batchSize, LENGTH, embedDim())).mul(scale));
            view.setRequiresGradient(true);
            tokens.setRequiresGradient(true);
            float[] mask = new float[batchSize * LENGTH];
            for (int i = 0; i < batchSize; i++) {
                for (int k = 0; k < LENGTH; k++) {
                    // a's view has every patch; b's view has 1 + (i % LENGTH) real tokens.
                    mask[i * LENGTH + k] = tower.equals("a") || k <= i % LENGTH ? 1 : 0;
                }
            }
            towers.put(tower + "_view", new TowerOutput(view, tokens,
                    manager.create(mask, new Shape(batchSize, LENGTH))));
        }
        return new EncodedBatch(towers, pairs.labels());
    }
}
