package dev.modalign.plugins.aggretriever;

import ai.djl.nn.Block;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.Encoder;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenSpec;
import dev.modalign.plugins.encoders.TransformerEncoder;

/**
 * A text encoder with Aggretriever's pooling ("Aggretriever: A Simple Approach to Aggregate Textual
 * Representations for Robust Dense Passage Retrieval", Lin et al., TACL 2023): the {@code transformer}
 * of the encoders plugin, and an embedding made of agg* (every token's weighted distribution over the
 * vocabulary, max-pooled over tokens and folded into {@code agg_dim} values) concatenated with the
 * projected first-token ([CLS]) vector. See {@link AggretrieverBlock} for the equations.
 *
 * <p>The paper's agg* reads a pre-trained BERT's MLM head; here the head scores the vocabulary with
 * the transformer's own token table (tied, as BERT's is) and is trained from scratch with the rest.
 */
public final class AggretrieverEncoder implements Encoder {

    /** The parameters of {@code transformer-agg}. */
    public record Params(
            @Doc("Width of the token embeddings and of every transformer layer") @Default("128") int width,
            @Doc("Number of transformer layers") @Default("2") int layers,
            @Doc("Attention heads per layer; must divide width") @Default("4") int heads,
            @Doc("Hidden size of each layer's MLP as a multiple of width") @Default("4.0") double mlpRatio,
            @Doc("Dropout rate on embeddings and on each sub-layer's output, while training") @Default("0.0")
            double dropout,
            @Doc("Size of the output embedding: agg_dim values of agg* followed by embed_dim - agg_dim of the"
                    + " projected first token (the paper: 640 + 128 = 768)") @Default("128") int embedDim,
            @Doc("Size of agg*, the aggregated lexical part; embed_dim - agg_dim is left for the first token;"
                    + " agg_dim = embed_dim keeps agg* alone") @Default("96") int aggDim) {

        public Params {
            if (embedDim <= 0) {
                throw new InvalidParamException("embed_dim", "must be > 0, found " + embedDim);
            }
            if (aggDim < 1 || aggDim > embedDim) {
                throw new InvalidParamException("agg_dim", "must be between 1 and embed_dim (" + embedDim
                        + "), found " + aggDim + "; the paper gives agg* 640 of 768 dimensions");
            }
            // The transformer validates the rest, by the same keys.
            transformer(width, layers, heads, mlpRatio, dropout);
        }

        /** The transformer under the head: tokens at full width, as the tied vocabulary scoring needs. */
        TransformerEncoder.Params transformer() {
            return transformer(width, layers, heads, mlpRatio, dropout);
        }

        private static TransformerEncoder.Params transformer(int width, int layers, int heads, double mlpRatio,
                double dropout) {
            return new TransformerEncoder.Params(width, layers, heads, mlpRatio, dropout, "first", width);
        }
    }

    private final Params params;
    private final AggretrieverBlock block;

    public AggretrieverEncoder(Params params, ComponentContext context) {
        if (!(context.input() instanceof TokenSpec tokens)) {
            String tower = context.towers().isEmpty() ? "this tower" : "tower '" + context.towers().get(0) + "'";
            throw new InvalidParamException("type", "transformer-agg needs token input; " + tower + " has "
                    + context.input().kind() + ": use it on a text tower, and cnn or mlp elsewhere");
        }
        this.params = params;
        this.block = new AggretrieverBlock(tokens.vocabularySize(), tokens.maxLength(), params.transformer(),
                params.aggDim(), params.embedDim());
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
