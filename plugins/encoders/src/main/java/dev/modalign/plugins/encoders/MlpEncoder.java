package dev.modalign.plugins.encoders;

import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.Encoder;
import dev.modalign.api.ImageSpec;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenSpec;
import dev.modalign.api.VectorSpec;
import java.util.List;

/**
 * A multilayer perceptron: hidden Linear + ReLU layers, then a Linear projection to the embedding.
 *
 * <p>Vectors [B, size] go in as they are and images [B, C, H, W] flattened. Token sequences go
 * through a table of {@code hidden[0]}-sized token embeddings averaged over the real tokens (a bag of
 * words, as in fastText), which stands in for the first hidden layer: the average is a linear map of
 * the sequence's normalised token counts. The remaining hidden layers and the projection follow.
 */
public final class MlpEncoder implements Encoder {

    public static final ComponentFactory<Params, Encoder> FACTORY = ComponentFactory.of("mlp",
            "Multilayer perceptron over vectors, flattened images, or mean-pooled token embeddings",
            Params.class, MlpEncoder::new);

    /** The parameters of {@code mlp}. */
    public record Params(
            @Doc("Sizes of the hidden layers, each Linear then ReLU; for tokens the first is the token embedding size")
            @Default("[512]") List<Integer> hidden,
            @Doc("Size of the output embedding") @Default("128") int embedDim) {

        public Params {
            if (hidden == null) {
                throw new InvalidParamException("hidden", "must be a list of layer sizes, e.g. [512]; found nothing");
            }
            for (int i = 0; i < hidden.size(); i++) {
                Integer units = hidden.get(i);
                if (units == null || units <= 0) {
                    throw new InvalidParamException("hidden", "layer sizes must be > 0, found " + units
                            + " at position " + i + "; use a positive size or remove the entry");
                }
            }
            hidden = List.copyOf(hidden);
            if (embedDim <= 0) {
                throw new InvalidParamException("embed_dim", "must be > 0, found " + embedDim);
            }
        }
    }

    private final Params params;
    private final SequentialBlock block;

    public MlpEncoder(Params params, ComponentContext context) {
        this.params = params;
        this.block = new SequentialBlock();
        InputSpec input = context.input();
        List<Integer> hiddenLayers = params.hidden();
        if (input instanceof TokenSpec tokens) {
            if (hiddenLayers.isEmpty()) {
                throw new InvalidParamException("hidden", "token input needs at least one hidden size, the size of "
                        + "its token embeddings; found []; set e.g. hidden: [512]");
            }
            block.add(new MeanTokenEmbedding(tokens.vocabularySize(), hiddenLayers.get(0)));
            block.add(Activation.reluBlock());
            hiddenLayers = hiddenLayers.subList(1, hiddenLayers.size());
        } else if (input instanceof ImageSpec) {
            block.add(Blocks.batchFlattenBlock());
        } else if (!(input instanceof VectorSpec)) {
            throw InputMismatch.of("mlp", "vector, image or token", context, "use an encoder made for "
                    + context.input().kind() + " input");
        }
        for (int units : hiddenLayers) {
            block.add(Linear.builder().setUnits(units).build());
            block.add(Activation.reluBlock());
        }
        block.add(Linear.builder().setUnits(params.embedDim()).build());
    }

    @Override
    public Block block() {
        return block;
    }

    @Override
    public int embedDim() {
        return params.embedDim();
    }
}
