package dev.modalign.plugins.softmultilabel;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.plugins.softmultilabel.SoftMultilabelLoss.Similarity;
import dev.modalign.testkit.AbstractLossContractTest;

/** The loss contract for soft-multilabel without a labels tower: one class per record, the test kit's labels. */
class SoftMultilabelLossClassLabelsContractTest extends AbstractLossContractTest<SoftMultilabelLoss.Params> {

    @Override
    protected ComponentFactory<SoftMultilabelLoss.Params, Loss> factory() {
        return SoftMultilabelPlugin.SOFT_MULTILABEL;
    }

    @Override
    protected SoftMultilabelLoss.Params params() {
        return new SoftMultilabelLoss.Params(0.1, Similarity.COSINE, null);
    }
}
