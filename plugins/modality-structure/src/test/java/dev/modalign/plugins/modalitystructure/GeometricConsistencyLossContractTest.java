package dev.modalign.plugins.modalitystructure;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for geometric-consistency: the intra- and inter-modal terms weighted unequally. */
class GeometricConsistencyLossContractTest extends AbstractLossContractTest<GeometricConsistencyLoss.Params> {

    @Override
    protected ComponentFactory<GeometricConsistencyLoss.Params, Loss> factory() {
        return ModalityStructurePlugin.GEOMETRIC_CONSISTENCY;
    }

    @Override
    protected GeometricConsistencyLoss.Params params() {
        return new GeometricConsistencyLoss.Params(0.5, 2.0);
    }
}
