package dev.modalign.plugins.encoders;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenSpec;
import dev.modalign.testkit.AbstractEncoderContractTest;
import dev.modalign.testkit.Tensors;
import dev.modalign.testkit.TestContext;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class CnnEncoderTest extends AbstractEncoderContractTest<CnnEncoder.Params> {

    private static final ImageSpec IMAGE = new ImageSpec(3, 16, 16);

    @Override
    protected ComponentFactory<CnnEncoder.Params, Encoder> factory() {
        return CnnEncoder.FACTORY;
    }

    @Override
    protected CnnEncoder.Params params() {
        return new CnnEncoder.Params(List.of(8, 16), 12, 32);
    }

    @Override
    protected InputSpec input() {
        return IMAGE;
    }

    @Override
    protected NDList batch(NDManager manager, int batchSize) {
        return new NDList(manager.randomNormal(new Shape(batchSize, 3, 16, 16)));
    }

    private Encoder build(CnnEncoder.Params params, ImageSpec image, NDList sample) {
        Engine.getInstance().setRandomSeed(3);
        Encoder encoder = factory().create(params, TestContext.builder().optInput(image).build());
        encoder.block().initialize(manager, DataType.FLOAT32, sample.getShapes());
        return encoder;
    }

    private float[] encode(Encoder encoder, NDArray images) {
        return encoder.block().forward(new ParameterStore(manager, false), new NDList(images), false).get(0)
                .toFloatArray();
    }

    @Test
    void eachEmbeddingDependsOnItsOwnImageOnly() {
        NDArray images = manager.randomNormal(new Shape(3, 3, 16, 16));
        Encoder encoder = build(params(), IMAGE, new NDList(images));
        float[] before = encode(encoder, images);
        // Brighten the top-left quarter of image 1.
        NDArray edited = images.duplicate();
        edited.set(new NDIndex("1, :, 0:8, 0:8"), edited.get(new NDIndex("1, :, 0:8, 0:8")).add(1.5f));
        float[] after = encode(encoder, edited);
        int d = encoder.embedDim();
        assertTrue(TransformerEncoderTest.maxAbsDifference(Arrays.copyOfRange(before, d, 2 * d),
                Arrays.copyOfRange(after, d, 2 * d)) > 1e-3, "changing image 1 did not change its embedding");
        Tensors.assertClose(Arrays.copyOfRange(before, 0, d), Arrays.copyOfRange(after, 0, d), 1e-5, "image 0");
        Tensors.assertClose(Arrays.copyOfRange(before, 2 * d, 3 * d), Arrays.copyOfRange(after, 2 * d, 3 * d), 1e-5,
                "image 2");
    }

    @Test
    void theEmbeddingIsExactlyThatOfThePlainSequenceOfItsLayers() {
        // The same children in a plain SequentialBlock is the cnn as it was before it gave patch tokens.
        NDArray images = manager.randomNormal(new Shape(3, 3, 16, 16));
        Encoder encoder = build(params(), IMAGE, new NDList(images));
        SequentialBlock plain = new SequentialBlock().addAll(encoder.block().getChildren().values());
        for (boolean training : new boolean[] {false, true}) {
            float[] expected = plain.forward(new ParameterStore(manager, false), new NDList(images), training).get(0)
                    .toFloatArray();
            float[] actual = encoder.block().forward(new ParameterStore(manager, false), new NDList(images), training)
                    .get(0).toFloatArray();
            assertArrayEquals(expected, actual, "embedding (training " + training + ") must be bit-identical");
        }
    }

    @Test
    void patchTokensAreTheProjectedPositionsOfTheLastFeatureMapAndAverageToTheEmbedding() {
        NDArray images = manager.randomNormal(new Shape(2, 3, 16, 16));
        Encoder encoder = build(params(), IMAGE, new NDList(images));
        assertTrue(encoder.tokenFeatures());
        NDList out = encoder.block().forward(new ParameterStore(manager, false), new NDList(images), false);
        // 16 x 16 -> stage 1 at 16 x 16, stage 2 halves it: 8 x 8 = 64 positions of embed_dim 12.
        assertEquals(new Shape(2, 64, 12), out.get(1).getShape(), "tokens");
        assertEquals(new Shape(2, 64), out.get(2).getShape(), "mask");
        Tensors.assertClose(new float[128], out.get(2).sub(1f).toFloatArray(), 0, "every patch is a real token");
        Tensors.assertClose(out.get(0).toFloatArray(), out.get(1).mean(new int[] {1}).toFloatArray(), 1e-5,
                "mean of the tokens against the embedding");
        Shape[] declared = encoder.block().getOutputShapes(new Shape[] {images.getShape()});
        assertEquals(out.get(1).getShape(), declared[1]);
        assertEquals(out.get(2).getShape(), declared[2]);
    }

    @Test
    void aPatchTokenSeesOnlyItsNeighbourhood() {
        // Two 3x3 convolutions (the second of stride 2) see 7 pixels around a position: a change in the
        // bottom-right corner leaves the top-left patch token as it was, and changes the bottom-right one.
        NDArray images = manager.randomNormal(new Shape(1, 3, 16, 16));
        Encoder encoder = build(params(), IMAGE, new NDList(images));
        NDArray edited = images.duplicate();
        edited.set(new NDIndex("0, :, 12:16, 12:16"), edited.get(new NDIndex("0, :, 12:16, 12:16")).add(2f));
        NDArray before = encoder.block().forward(new ParameterStore(manager, false), new NDList(images), false).get(1);
        NDArray after = encoder.block().forward(new ParameterStore(manager, false), new NDList(edited), false).get(1);
        Tensors.assertClose(before.get(new NDIndex("0, 0")).toFloatArray(), after.get(new NDIndex("0, 0")).toFloatArray(),
                1e-6, "top-left token");
        assertTrue(TransformerEncoderTest.maxAbsDifference(before.get(new NDIndex("0, 63")).toFloatArray(),
                after.get(new NDIndex("0, 63")).toFloatArray()) > 1e-3, "bottom-right token did not change");
    }

    @Test
    void largeImagesAreReducedBeforeTheFirstStage() {
        for (int side : new int[] {32, 64, 128}) {
            NDArray images = manager.randomNormal(new Shape(2, 3, side, side));
            Encoder encoder = build(new CnnEncoder.Params(List.of(8, 16), 12, 32), new ImageSpec(3, side, side),
                    new NDList(images));
            Shape shape = images.getShape();
            for (Block child : encoder.block().getChildren().values()) {
                shape = child.getOutputShapes(new Shape[] {shape})[0];
                if (child instanceof BatchNorm) {
                    break;
                }
            }
            assertEquals(new Shape(2, 8, 32, 32), shape, "first stage's output for " + side + "x" + side);
            assertEquals(2 * 12, encode(encoder, images).length, "embedding of " + side + "x" + side);
        }
    }

    @Test
    void aCheckpointKeepsTheBatchNormStatistics() {
        NDArray images = manager.randomNormal(new Shape(4, 3, 16, 16)).mul(3).add(1);
        Encoder trained = build(params(), IMAGE, new NDList(images));
        float[] untrained = encode(trained, images);
        // Training-mode steps move the running mean and variance that evaluation uses.
        for (int i = 0; i < 3; i++) {
            trained.block().forward(new ParameterStore(manager, false), new NDList(images), true);
        }
        float[] expected = encode(trained, images);
        assertTrue(TransformerEncoderTest.maxAbsDifference(untrained, expected) > 1e-3,
                "training-mode forwards left the batch norm statistics as they were");
        Engine.getInstance().setRandomSeed(99);
        Encoder restored = factory().create(params(), TestContext.builder().optInput(IMAGE).build());
        restored.block().initialize(manager, DataType.FLOAT32, images.getShape());
        Checkpoints.copy(trained.block(), restored.block(), manager);
        Tensors.assertClose(expected, encode(restored, images), 1e-5, "restored embedding");
    }

    @Test
    void tokenInputIsRefusedWithTheFix() {
        InvalidParamException error = assertThrows(InvalidParamException.class, () -> factory().create(params(),
                TestContext.builder().optInput(new TokenSpec(100, 16, 0, 1)).optTowers(List.of("text"), 12).build()));
        assertEquals("type", error.key());
        assertEquals("cnn needs image input; tower 'text' has tokens: use transformer or mlp", error.getMessage());
    }

    @Test
    void parametersAreValidatedByKey() {
        assertEquals("channels", assertThrows(InvalidParamException.class,
                () -> new CnnEncoder.Params(List.of(), 12, 32)).key());
        assertEquals("channels", assertThrows(InvalidParamException.class,
                () -> new CnnEncoder.Params(List.of(8, -1), 12, 32)).key());
        assertEquals("max_stem_size", assertThrows(InvalidParamException.class,
                () -> new CnnEncoder.Params(List.of(8), 12, 0)).key());
    }
}
