package dev.modalign.plugins.sbcl;

import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import java.util.Random;

/**
 * The loss contract for SBCL once subclasses exist: the test kit's labels 0..3, each class clustered
 * into two subclasses with adaptive class temperatures and a scaled subclass level.
 */
class SbclLossWithSubclassesContractTest extends AbstractLossContractTest<SbclLoss.Params> {

    @Override
    protected ComponentFactory<SbclLoss.Params, Loss> factory() {
        return SbclPlugin.SBCL;
    }

    @Override
    protected SbclLoss.Params params() {
        return new SbclLoss.Params(0.1, 0.07, 0.1, true, 0.25, 3, 1, 4096, 50, 20, 3);
    }

    @Override
    protected Loss newLoss(NDManager parameterManager) {
        SbclLoss loss = (SbclLoss) super.newLoss(parameterManager);
        Random random = new Random(9);
        float[][] features = new float[24][2 * embedDim()];
        long[] labels = new long[24];
        for (int r = 0; r < features.length; r++) {
            labels[r] = r % 4;
            for (int j = 0; j < features[r].length; j++) {
                features[r][j] = (float) random.nextGaussian() / 4;
            }
        }
        loss.useSubclasses(Subclasses.fit(features, labels, new Subclasses.Settings(3, 1, 20, 3, 0.1, true), 5));
        return loss;
    }
}
