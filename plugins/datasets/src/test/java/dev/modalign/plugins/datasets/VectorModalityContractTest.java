package dev.modalign.plugins.datasets;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Modality;
import dev.modalign.testkit.AbstractModalityContractTest;
import java.util.List;

/**
 * The modality contract for 3-vectors. Only float[] raws here: the contract compares examples with
 * equals, which for arrays is identity, and only a float[] is passed through as it is; the other raw
 * forms are checked value by value in {@link VectorModalityTest}.
 */
class VectorModalityContractTest extends AbstractModalityContractTest<VectorModality.Params> {

    @Override
    protected ComponentFactory<VectorModality.Params, Modality<?>> factory() {
        return DatasetsPlugin.VECTOR;
    }

    @Override
    protected VectorModality.Params params() {
        return new VectorModality.Params(3);
    }

    @Override
    protected List<Object> validRaws() {
        return List.of(new float[] {1, 2, 3}, new float[] {0.5f, -1, 2}, new float[] {4, 5, 6});
    }

    @Override
    protected Object invalidRaw() {
        return "1, two, 3";
    }
}
