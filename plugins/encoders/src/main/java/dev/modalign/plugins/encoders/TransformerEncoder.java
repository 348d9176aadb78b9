package dev.modalign.plugins.encoders;

import ai.djl.nn.Block;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.Encoder;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenSpec;

/**
 * A Transformer encoder over token sequences ("Attention Is All You Need", Vaswani et al., 2017) with
 * pre-LN layers ("On Layer Normalization in the Transformer Architecture", Xiong et al., 2020).
 * Attention masks padding keys, and mean pooling counts real tokens only, so padding never changes
 * an embedding. It also returns its projected token features for token-level methods.
 */
public final class TransformerEncoder implements Encoder {

    public static final ComponentFactory<Params, Encoder> FACTORY = ComponentFactory.of("transformer",
            "Pre-LN Transformer encoder over tokens (Vaswani et al. 2017; Xiong et al. 2020) with padding masks",
            Params.class, TransformerEncoder::new);

    /** The parameters of {@code transformer}. */
    public record Params(
            @Doc("Width of the token embeddings and of every layer") @Default("128") int width,
            @Doc("Number of encoder layers") @Default("2") int layers,
            @Doc("Attention heads per layer; must divide width") @Default("4") int heads,
            @Doc("Hidden size of each layer's MLP as a multiple of width") @Default("4.0") double mlpRatio,
            @Doc("Dropout rate on embeddings and on each sub-layer's output, while training") @Default("0.0")
            double dropout,
            @Doc("How tokens become the embedding: 'mean' over real tokens, or 'first' token") @Default("mean")
            String pooling,
            @Doc("Size of the output embedding and of the token features") @Default("128") int embedDim) {

        public Params {
            if (width <= 0) {
                throw new InvalidParamException("width", "must be > 0, found " + width);
            }
            if (layers < 0) {
                throw new InvalidParamException("layers", "must be >= 0, found " + layers);
            }
            if (heads <= 0 || width % heads != 0) {
                throw new InvalidParamException("heads", "must be > 0 and divide width " + width + ", found " + heads
                        + "; e.g. heads: " + (width % 4 == 0 ? 4 : 1));
            }
            if (!(mlpRatio > 0) || Math.round(width * mlpRatio) < 1) {
                throw new InvalidParamException("mlp_ratio", "must give an MLP of at least one unit (width "
                        + width + " x mlp_ratio), found " + mlpRatio + "; e.g. 4");
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new InvalidParamException("dropout", "must be in [0, 1), found " + dropout);
            }
            if (!"mean".equals(pooling) && !"first".equals(pooling)) {
                throw new InvalidParamException("pooling", "must be 'mean' or 'first', found '" + pooling + "'");
            }
            if (embedDim <= 0) {
                throw new InvalidParamException("embed_dim", "must be > 0, found " + embedDim);
            }
        }

        /** The hidden size of each layer's MLP. */
        int mlpHidden() {
            return (int) Math.round(width * mlpRatio);
        }
    }

    private final Params params;
    private final TokenTransformer block;

    public TransformerEncoder(Params params, ComponentContext context) {
        if (!(context.input() instanceof TokenSpec tokens)) {
            throw InputMismatch.of("transformer", "token", context,
                    context.input().kind().equals("image") ? "use cnn or mlp" : "use mlp");
        }
        this.params = params;
        this.block = new TokenTransformer(tokens.vocabularySize(), tokens.maxLength(), params);
    }

    @Override
    public Block block() {
        return block;
    }

    @Override
    public int embedDim() {
        return params.embedDim();
    }

    @Override
    public boolean tokenFeatures() {
        return true;
    }
}
