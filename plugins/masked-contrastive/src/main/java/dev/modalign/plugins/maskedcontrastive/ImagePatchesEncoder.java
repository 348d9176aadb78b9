package dev.modalign.plugins.maskedcontrastive;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InvalidParamException;

/**
 * The image itself as a tower's output, without parameters: tokens are its patches [B, N, C p p] (see {@link
 * Patches}), the embedding their mean. The target tower of a masked-modelling run: it reads the same field as
 * the masked tower, without the mask, so that the {@code masked-patch} loss has the true patches to predict.
 */
public final class ImagePatchesEncoder implements Encoder {

    /** The encoder's YAML keys. */
    public record Params(@Doc("Side of a square patch in pixels, as the patch-mask augmentation's") @Default("4")
            int patch) {
        public Params {
            if (patch <= 0) {
                throw new InvalidParamException("patch", "must be > 0, found " + patch);
            }
        }
    }

    private final int patch;
    private final int dim;
    private final Block block;

    ImagePatchesEncoder(Params params, ComponentContext context) {
        if (!(context.input() instanceof ImageSpec image)) {
            throw new InvalidParamException("type", "image-patches reads images, but its tower's modality gives "
                    + (context.input() == null ? "nothing" : context.input().kind()) + "; use it on an image tower");
        }
        if (image.height() % params.patch() != 0 || image.width() % params.patch() != 0) {
            throw new InvalidParamException("patch", image.height() + "x" + image.width() + " images do not divide"
                    + " into " + params.patch() + "x" + params.patch() + " patches");
        }
        this.patch = params.patch();
        this.dim = image.channels() * patch * patch;
        this.block = new PatchBlock();
    }

    @Override
    public Block block() {
        return block;
    }

    @Override
    public int embedDim() {
        return dim;
    }

    @Override
    public boolean tokenFeatures() {
        return true;
    }

    private final class PatchBlock extends AbstractBlock {

        @Override
        protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
                PairList<String, Object> params) {
            NDArray tokens = Patches.of(inputs.get(0), patch);
            NDArray mask = tokens.getManager().ones(new Shape(tokens.getShape().get(0), tokens.getShape().get(1)),
                    DataType.FLOAT32, tokens.getDevice());
            return new NDList(tokens.mean(new int[] {1}), tokens, mask);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            Shape in = inputShapes[0];
            long n = (in.get(2) / patch) * (in.get(3) / patch);
            return new Shape[] {new Shape(in.get(0), dim), new Shape(in.get(0), n, dim), new Shape(in.get(0), n)};
        }
    }
}
