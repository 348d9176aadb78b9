package dev.modalign.plugins.aggretriever;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.InputSpec;
import dev.modalign.api.TokenSpec;
import dev.modalign.testkit.AbstractEncoderContractTest;

/** The encoder contract for transformer-agg: 8 of its 12 dimensions agg*, the rest the first token. */
class AggretrieverEncoderContractTest extends AbstractEncoderContractTest<AggretrieverEncoder.Params> {

    static final TokenSpec TOKENS = new TokenSpec(50, 10, 0, 2);

    @Override
    protected ComponentFactory<AggretrieverEncoder.Params, Encoder> factory() {
        return AggretrieverPlugin.TRANSFORMER_AGG;
    }

    @Override
    protected AggretrieverEncoder.Params params() {
        return new AggretrieverEncoder.Params(16, 1, 2, 2.0, 0.0, 12, 8);
    }

    @Override
    protected InputSpec input() {
        return TOKENS;
    }

    @Override
    protected NDList batch(NDManager manager, int batchSize) {
        return AggretrieverEncoderTest.randomTexts(manager, batchSize, 8);
    }
}
