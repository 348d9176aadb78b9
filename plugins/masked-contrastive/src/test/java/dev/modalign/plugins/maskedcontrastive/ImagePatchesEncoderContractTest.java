package dev.modalign.plugins.maskedcontrastive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InputSpec;
import dev.modalign.testkit.AbstractEncoderContractTest;
import org.junit.jupiter.api.Test;

class ImagePatchesEncoderContractTest extends AbstractEncoderContractTest<ImagePatchesEncoder.Params> {

    @Override
    protected ComponentFactory<ImagePatchesEncoder.Params, Encoder> factory() {
        return MaskedContrastivePlugin.IMAGE_PATCHES;
    }

    @Override
    protected ImagePatchesEncoder.Params params() {
        return new ImagePatchesEncoder.Params(2);
    }

    @Override
    protected InputSpec input() {
        return new ImageSpec(3, 4, 4);
    }

    /**
     * The encoder has no parameters, so nothing in its output would require a gradient and the kit's backward
     * passes would have no graph: the input requires one instead (the gradient checks are then vacuous).
     */
    @Override
    protected NDList batch(NDManager manager, int batchSize) {
        NDArray images = manager.randomUniform(-1, 1, new Shape(batchSize, 3, 4, 4));
        images.setRequiresGradient(true);
        return new NDList(images);
    }

    /** Patch 1 of a 1-channel 4x4 image in 2x2 patches is its top-right square, row by row. */
    @Test
    void tokensAreThePatchesInGridOrder() {
        NDList image = new NDList(manager.arange(0f, 16f).reshape(1, 1, 4, 4));
        Encoder encoder = MaskedContrastivePlugin.IMAGE_PATCHES.create(new ImagePatchesEncoder.Params(2),
                dev.modalign.testkit.TestContext.builder().optInput(new ImageSpec(1, 4, 4)).build());
        encoder.block().initialize(manager, ai.djl.ndarray.types.DataType.FLOAT32, image.getShapes());
        NDList out = encoder.block().forward(new ParameterStore(manager, false), image, false);
        NDArray tokens = out.get(1);
        assertEquals(new Shape(1, 4, 4), tokens.getShape());
        assertArrayEquals(new float[] {2, 3, 6, 7}, tokens.get(0).get(1).toFloatArray());
        assertArrayEquals(new float[] {8, 9, 12, 13}, tokens.get(0).get(2).toFloatArray());
        assertEquals(4, encoder.embedDim());
    }
}
