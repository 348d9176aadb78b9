package dev.modalign.plugins.softmultilabel;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Modality;
import dev.modalign.testkit.AbstractModalityContractTest;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The modality contract for multi-hot over 13 classes, with every raw form a source gives. */
class MultiHotModalityContractTest extends AbstractModalityContractTest<MultiHotModality.Params> {

    @Override
    protected ComponentFactory<MultiHotModality.Params, Modality<?>> factory() {
        return SoftMultilabelPlugin.MULTI_HOT;
    }

    @Override
    protected MultiHotModality.Params params() {
        return new MultiHotModality.Params(13);
    }

    @Override
    protected List<Object> validRaws() {
        return List.of("3;7;12", "[1, 2]", "", 4, new float[] {0, 12}, "5 6".getBytes(StandardCharsets.UTF_8));
    }

    @Override
    protected Object invalidRaw() {
        return "3;seven";
    }
}
