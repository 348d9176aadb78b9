package dev.modalign.plugins.cwcl;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for CWCL in the paper's setting, the second tower its own teacher, at a fixed temperature. */
class CwclLossTeacherIsTowerContractTest extends AbstractLossContractTest<CwclLoss.Params> {

    @Override
    protected ComponentFactory<CwclLoss.Params, Loss> factory() {
        return CwclPlugin.CWCL;
    }

    @Override
    protected CwclLoss.Params params() {
        return new CwclLoss.Params("b", 0.05, false, 100);
    }
}
