package dev.modalign.plugins.protoclip;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for ProtoCLIP with its defaults: before the first clustering, the instance term. */
class ProtoClipLossContractTest extends AbstractLossContractTest<ProtoClipLoss.Params> {

    @Override
    protected ComponentFactory<ProtoClipLoss.Params, Loss> factory() {
        return ProtoClipPlugin.PROTOCLIP;
    }

    @Override
    protected ProtoClipLoss.Params params() {
        return ProtoClipLossTest.defaults();
    }

    /** 4 prototypes from a memory of 16 pairs re-clustered every 2 steps: a checkpoint after 4 steps holds them. */
    @Override
    protected ProtoClipLoss.Params checkpointParams() {
        return new ProtoClipLoss.Params(0.07, 0.07, true, 100, 0.01, 4, 16, 2, 20, 3, 1.0, 1.0, true);
    }
}
