package dev.modalign.plugins.latentattention;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.InputSpec;
import dev.modalign.api.TokenSpec;
import dev.modalign.testkit.AbstractEncoderContractTest;

/** The encoder contract for transformer-latent-attention, small: 12 latents, 2 heads. */
class LatentAttentionEncoderContractTest extends AbstractEncoderContractTest<LatentAttentionEncoder.Params> {

    static final TokenSpec TOKENS = new TokenSpec(50, 10, 0, 2);

    @Override
    protected ComponentFactory<LatentAttentionEncoder.Params, Encoder> factory() {
        return LatentAttentionPlugin.TRANSFORMER_LATENT_ATTENTION;
    }

    @Override
    protected LatentAttentionEncoder.Params params() {
        return LatentAttentionEncoderTest.PARAMS;
    }

    @Override
    protected InputSpec input() {
        return TOKENS;
    }

    @Override
    protected NDList batch(NDManager manager, int batchSize) {
        return LatentAttentionEncoderTest.randomTexts(manager, batchSize, 8);
    }
}
