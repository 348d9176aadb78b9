package dev.modalign.plugins.latentattention;

import ai.djl.nn.Block;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.Encoder;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TokenSpec;
import dev.modalign.plugins.encoders.TransformerEncoder;

/**
 * A text encoder pooled by NV-Embed's latent attention layer ("NV-Embed: Improved Techniques for
 * Training LLMs as Generalist Embedding Models", Lee et al., 2024, Section 3.2): the {@code
 * transformer} of the encoders plugin gives token features, which attend as queries to a trainable
 * latent array (keys and values), go through an MLP, and are mean-pooled over the real tokens. See
 * {@link LatentAttentionBlock}. Its token features (after the MLP) are returned too, for token-level
 * methods; the embedding is their masked mean.
 */
public final class LatentAttentionEncoder implements Encoder {

    /** The parameters of {@code transformer-latent-attention}. */
    public record Params(
            @Doc("Width of the token embeddings and of every transformer layer") @Default("128") int width,
            @Doc("Number of transformer layers") @Default("2") int layers,
            @Doc("Attention heads per transformer layer; must divide width") @Default("4") int heads,
            @Doc("Hidden size of each transformer layer's MLP as a multiple of width") @Default("4.0") double mlpRatio,
            @Doc("Dropout rate on embeddings and on each sub-layer's output, while training") @Default("0.0")
            double dropout,
            @Doc("Size of the token features the latent attention works at, and of the embedding") @Default("128")
            int embedDim,
            @Doc("Number r of trainable latents, the keys and values of the cross-attention (NV-Embed: 512)")
            @Default("512") int latents,
            @Doc("Heads of the cross-attention; must divide embed_dim (NV-Embed: 8)") @Default("8") int latentHeads,
            @Doc("Hidden size of the MLP after the cross-attention as a multiple of embed_dim") @Default("4.0")
            double latentMlpRatio) {

        public Params {
            transformer(width, layers, heads, mlpRatio, dropout, embedDim);
            if (latents < 1) {
                throw new InvalidParamException("latents", "must be >= 1, found " + latents + "; NV-Embed uses 512");
            }
            if (latentHeads < 1 || embedDim % latentHeads != 0) {
                throw new InvalidParamException("latent_heads", "must be >= 1 and divide embed_dim " + embedDim
                        + ", found " + latentHeads + "; NV-Embed uses 8");
            }
            if (!(latentMlpRatio > 0) || Math.round(embedDim * latentMlpRatio) < 1) {
                throw new InvalidParamException("latent_mlp_ratio", "must give an MLP of at least one unit (embed_dim "
                        + embedDim + " x latent_mlp_ratio), found " + latentMlpRatio + "; e.g. 4");
            }
        }

        /** The transformer under the head, its tokens projected to embed_dim. */
        TransformerEncoder.Params transformer() {
            return transformer(width, layers, heads, mlpRatio, dropout, embedDim);
        }

        int latentMlpHidden() {
            return (int) Math.round(embedDim * latentMlpRatio);
        }

        private static TransformerEncoder.Params transformer(int width, int layers, int heads, double mlpRatio,
                double dropout, int embedDim) {
            return new TransformerEncoder.Params(width, layers, heads, mlpRatio, dropout, "mean", embedDim);
        }
    }

    private final Params params;
    private final LatentAttentionBlock block;

    public LatentAttentionEncoder(Params params, ComponentContext context) {
        if (!(context.input() instanceof TokenSpec tokens)) {
            String tower = context.towers().isEmpty() ? "this tower" : "tower '" + context.towers().get(0) + "'";
            throw new InvalidParamException("type", "transformer-latent-attention needs token input; " + tower
                    + " has " + context.input().kind() + ": use it on a text tower, and cnn or mlp elsewhere");
        }
        this.params = params;
        this.block = new LatentAttentionBlock(tokens.vocabularySize(), tokens.maxLength(), params.transformer(),
                params.latents(), params.latentHeads(), params.latentMlpHidden());
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
