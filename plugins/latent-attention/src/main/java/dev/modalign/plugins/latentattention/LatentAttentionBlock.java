package dev.modalign.plugins.latentattention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.modalign.api.Scalars;
import dev.modalign.plugins.encoders.MaskedMeanPooling;
import dev.modalign.plugins.encoders.TokenTransformer;
import dev.modalign.plugins.encoders.TransformerEncoder;

/**
 * NV-Embed's latent attention pooling (Lee et al., 2024, Section 3.2 and Figure 1) on a {@link
 * TokenTransformer}: NDList(ids int [B, T], mask [B, T]) to NDList(embedding [B, E], tokens [B, T, E],
 * mask [B, T]).
 *
 * <pre>
 *   Q = the transformer's token features [T, E]; K = V = the trainable latent array [r, E]
 *   O = softmax(Q K^T) V                                  Eq. (1), here with heads and projections
 *   tokens = MLP(O)                                       two linear maps with a GELU between
 *   embedding = mean of tokens over the real tokens
 * </pre>
 *
 * <p>The paper states Eq. (1) without projections; as its released model (the LatentAttentionModel of
 * nvidia/NV-Embed-v1) does, the queries and the latents are layer-normalised and projected (Wq; Wk and
 * Wv), the heads are concatenated and projected (Wo), and both the attention and the MLP add their
 * input back (residual), with scaled dot-product logits (1 / sqrt(head size)). Its MLP is GEGLU; here a
 * plain GELU MLP, as the paper describes it. r = 512 latents and 8 heads are the paper's.
 *
 * <p>The latents are keys and values only, so every token is pooled on its own: a padded position's
 * output is never read by a real token (the transformer masks padded keys), and the mean counts the
 * real tokens only; padding changes no embedding.
 */
final class LatentAttentionBlock extends AbstractBlock {

    private static final byte VERSION = 1;

    private final int embedDim;
    private final int latentCount;
    private final int heads;
    private final int mlpHidden;
    private final TokenTransformer transformer;
    private final Parameter latents;
    private final LayerNorm queryNorm;
    private final LayerNorm latentNorm;
    private final Linear query;
    private final Linear keyValue;
    private final Linear output;
    private final LayerNorm mlpNorm;
    private final Linear mlpIn;
    private final Linear mlpOut;

    LatentAttentionBlock(int vocabularySize, int maxLength, TransformerEncoder.Params transformerParams, int latentCount,
            int heads, int mlpHidden) {
        super(VERSION);
        this.embedDim = transformerParams.embedDim();
        this.latentCount = latentCount;
        this.heads = heads;
        this.mlpHidden = mlpHidden;
        this.transformer = addChildBlock("transformer", new TokenTransformer(vocabularySize, maxLength, transformerParams));
        // torch.randn, as the released model initialises its latents; they are layer-normalised before use.
        this.latents = addParameter(Parameter.builder().setName("latents").setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(latentCount, embedDim)).optInitializer(new NormalInitializer(1f)).build());
        this.queryNorm = addChildBlock("query_norm", LayerNorm.builder().axis(2).build());
        this.latentNorm = addChildBlock("latent_norm", LayerNorm.builder().axis(1).build());
        this.query = addChildBlock("query", Linear.builder().setUnits(embedDim).optBias(false).build());
        this.keyValue = addChildBlock("key_value", Linear.builder().setUnits(2L * embedDim).optBias(false).build());
        this.output = addChildBlock("output", Linear.builder().setUnits(embedDim).build());
        this.mlpNorm = addChildBlock("mlp_norm", LayerNorm.builder().axis(2).build());
        this.mlpIn = addChildBlock("mlp_in", Linear.builder().setUnits(mlpHidden).build());
        this.mlpOut = addChildBlock("mlp_out", Linear.builder().setUnits(embedDim).build());
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList encoded = transformer.forward(parameterStore, inputs, training);
        NDArray x = encoded.get(1); // [B, T, E]
        NDArray mask = encoded.get(2);
        long batch = x.getShape().get(0);
        long length = x.getShape().get(1);
        long headSize = embedDim / heads;

        NDArray q = query.forward(parameterStore, queryNorm.forward(parameterStore, new NDList(x), training), training)
                .get(0).reshape(batch, length, heads, headSize).transpose(0, 2, 1, 3); // [B, H, T, Dh]
        NDArray latentArray = parameterStore.getValue(latents, x.getDevice(), training);
        NDArray context = latentNorm.forward(parameterStore, new NDList(latentArray), training).get(0); // [r, E]
        NDArray kv = keyValue.forward(parameterStore, new NDList(context), training).get(0)
                .reshape(latentCount, 2, heads, headSize).transpose(1, 2, 0, 3); // [2, H, r, Dh]
        NDArray key = kv.get(0);
        NDArray value = kv.get(1);
        // Eq. (1): softmax(Q K^T) V, per head, with the usual 1 / sqrt(d) scale.
        NDArray attention = Scalars.div(q.matMul(key.transpose(0, 2, 1)), Math.sqrt(headSize)).softmax(-1); // [B, H, T, r]
        NDArray mixed = attention.matMul(value).transpose(0, 2, 1, 3).reshape(batch, length, embedDim);
        x = x.add(output.forward(parameterStore, new NDList(mixed), training).get(0));

        NDArray normed = mlpNorm.forward(parameterStore, new NDList(x), training).get(0);
        NDArray hidden = Activation.gelu(mlpIn.forward(parameterStore, new NDList(normed), training).get(0));
        NDArray tokens = x.add(mlpOut.forward(parameterStore, new NDList(hidden), training).get(0));
        return new NDList(MaskedMeanPooling.pool(tokens, mask), tokens, mask);
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        transformer.initialize(manager, dataType, inputShapes);
        Shape tokens = inputShapes[0].add(embedDim);
        Shape latentShape = new Shape(latentCount, embedDim);
        queryNorm.initialize(manager, dataType, tokens);
        latentNorm.initialize(manager, dataType, latentShape);
        query.initialize(manager, dataType, tokens);
        keyValue.initialize(manager, dataType, latentShape);
        output.initialize(manager, dataType, tokens);
        mlpNorm.initialize(manager, dataType, tokens);
        mlpIn.initialize(manager, dataType, tokens);
        mlpOut.initialize(manager, dataType, new Shape(tokens.get(0), tokens.get(1), mlpHidden));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        return new Shape[] {new Shape(ids.get(0), embedDim), ids.add(embedDim), ids};
    }
}
