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
}
