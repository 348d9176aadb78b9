package dev.modalign.plugins.clap;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InputSpec;
import dev.modalign.testkit.AbstractEncoderContractTest;
import java.util.List;

/** The encoder contract for clap-fusion: 8 mel bands, 40 frames, a window of 12, clips of 5 to 40 frames. */
class ClapFusionEncoderContractTest extends AbstractEncoderContractTest<ClapFusionEncoder.Params> {

    @Override
    protected ComponentFactory<ClapFusionEncoder.Params, Encoder> factory() {
        return ClapPlugin.CLAP_FUSION;
    }

    @Override
    protected ClapFusionEncoder.Params params() {
        return new ClapFusionEncoder.Params(12, "repeat", List.of(4, 8), 6, 32, 2);
    }

    @Override
    protected InputSpec input() {
        return new ImageSpec(1, 8, 40);
    }

    @Override
    protected NDList batch(NDManager manager, int batchSize) {
        int[] lengths = new int[batchSize];
        for (int i = 0; i < batchSize; i++) {
            lengths[i] = i % 2 == 0 ? 40 - 3 * i : 5 + i; // long and short clips alternate
        }
        return ClapFusionEncoderTest.spectrograms(manager, lengths, 40);
    }
}
