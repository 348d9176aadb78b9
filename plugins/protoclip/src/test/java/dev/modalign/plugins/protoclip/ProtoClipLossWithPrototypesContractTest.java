package dev.modalign.plugins.protoclip;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.Random;

/** The loss contract for ProtoCLIP once prototypes exist: instance and prototype terms together. */
class ProtoClipLossWithPrototypesContractTest extends AbstractLossContractTest<ProtoClipLoss.Params> {

    @Override
    protected ComponentFactory<ProtoClipLoss.Params, Loss> factory() {
        return ProtoClipPlugin.PROTOCLIP;
    }

    @Override
    protected ProtoClipLoss.Params params() {
        return ProtoClipLossTest.defaults();
    }

    @Override
    protected Loss newLoss(NDManager parameterManager) {
        ProtoClipLoss loss = (ProtoClipLoss) super.newLoss(parameterManager);
        Random random = new Random(9);
        float[][][] rows = new float[4][6][embedDim()];
        for (float[][] matrix : rows) {
            for (float[] row : matrix) {
                for (int j = 0; j < row.length; j++) {
                    row[j] = (float) random.nextGaussian() / 4;
                }
            }
        }
        loss.usePrototypes(Prototypes.of(rows[0], rows[1], rows[2], rows[3], 0.01));
        return loss;
    }
}
