package dev.modalign.plugins.filip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.Scalars;

/**
 * FILIP's token-wise similarity ("FILIP: Fine-grained Interactive Language-Image Pre-Training", Yao et
 * al., ICLR 2022, Section 3.1.1): a query q and a gallery item g, each a set of L2-normalised token
 * features, score
 *
 * <pre>
 *   s(q -&gt; g) = 1/|q| sum over real tokens k of q of  max over real tokens r of g of  &lt;q_k, g_r&gt;
 * </pre>
 *
 * so every token of the query finds its best match among the item's tokens, and the query's tokens
 * average. It is not symmetric: the paper's image-to-text similarity s^I averages over image patches,
 * its text-to-image similarity s^T over words, and each direction of the loss uses its own.
 *
 * <p>Padding: a masked-out token of the gallery item is lowered by {@link #PADDING_PENALTY} before the
 * max, so it never wins over a real token (cosines lie in [-1, 1]), and a masked-out token of the query
 * is left out of the mean, which divides by the number of real tokens. Neither receives a gradient, and
 * whatever features padding holds changes nothing. A sequence without any real token averages to 0.
 *
 * <p>Arrays: tokens [N, T, D] already L2-normalised, masks [N, T] (1 real, 0 padding); results are
 * differentiable with respect to the tokens and belong to the tokens' manager.
 */
final class TokenwiseSimilarity {

    /** Larger than any gap between two cosines (at most 2), so a padded token is never the max. */
    static final double PADDING_PENALTY = 4.0;

    private TokenwiseSimilarity() {}

    /** Both directions between two sets of records, from one token-pair product. */
    record BothDirections(NDArray firstToSecond, NDArray secondToFirst) {}

    /**
     * s(q_n -&gt; g_m) for every query n and gallery item m: [N, M].
     *
     * @param queries [N, Tq, D], normalised
     * @param queryMask [N, Tq]
     * @param gallery [M, Tg, D], normalised
     * @param galleryMask [M, Tg]
     */
    static NDArray queryToGallery(NDArray queries, NDArray queryMask, NDArray gallery, NDArray galleryMask) {
        NDArray pairs = tokenPairs(queries, gallery); // [N, Tq, M, Tg]
        NDArray best = pairs.add(penalty(galleryMask).expandDims(0).expandDims(0)).max(new int[] {3}); // [N, Tq, M]
        return meanOverRealTokens(best, queryMask.expandDims(2), 1, queryMask); // [N, M]
    }

    /**
     * Both directions between records of two towers:
     * firstToSecond[i, j] = s(a_i -&gt; b_j) (FILIP's s^I_ij for a the images) and secondToFirst[i, j] =
     * s(b_j -&gt; a_i) (its s^T_ij), each [N, M].
     */
    static BothDirections both(NDArray first, NDArray firstMask, NDArray second, NDArray secondMask) {
        NDArray pairs = tokenPairs(first, second); // [N, Ta, M, Tb]
        NDArray bestInSecond = pairs.add(penalty(secondMask).expandDims(0).expandDims(0)).max(new int[] {3});
        NDArray firstToSecond = meanOverRealTokens(bestInSecond, firstMask.expandDims(2), 1, firstMask);
        NDArray bestInFirst = pairs.add(penalty(firstMask).expandDims(2).expandDims(3)).max(new int[] {1}); // [N, M, Tb]
        NDArray secondToFirst = meanOverRealTokens(bestInFirst, secondMask.expandDims(0), 2, secondMask);
        return new BothDirections(firstToSecond, secondToFirst);
    }

    /** &lt;a_nk, b_mr&gt; for every pair of tokens: [N, Ta, M, Tb], one matrix product. */
    private static NDArray tokenPairs(NDArray a, NDArray b) {
        Shape first = a.getShape();
        Shape second = b.getShape();
        if (first.dimension() != 3 || second.dimension() != 3 || first.get(2) != second.get(2)) {
            throw new IllegalArgumentException("token-wise similarity needs token features [N, T, D] of one width D,"
                    + " found " + first + " and " + second + "; give both encoders the same embed_dim");
        }
        long dim = first.get(2);
        return a.reshape(first.get(0) * first.get(1), dim)
                .matMul(b.reshape(second.get(0) * second.get(1), dim).transpose())
                .reshape(first.get(0), first.get(1), second.get(0), second.get(1));
    }

    /** 0 for a real token, -PADDING_PENALTY for padding: [N, T]. */
    private static NDArray penalty(NDArray mask) {
        return Scalars.mul(mask.sub(Scalars.of(mask, 1)), PADDING_PENALTY);
    }

    /**
     * The sum of {@code values} weighted by {@code weights} (the mask, broadcast) along {@code axis},
     * divided by each query's number of real tokens (at least 1).
     */
    private static NDArray meanOverRealTokens(NDArray values, NDArray weights, int axis, NDArray mask) {
        NDArray sum = values.mul(weights).sum(new int[] {axis});
        NDArray counts = Scalars.maximum(mask.sum(new int[] {1}), 1); // [N]
        return axis == 1 ? sum.div(counts.expandDims(1)) : sum.div(counts.expandDims(0));
    }

    /** The mask as {@code like}'s type, or all ones [N, T] where the encoder gave none. */
    static NDArray maskOf(NDArray tokens, NDArray mask) {
        if (mask == null) {
            Shape shape = tokens.getShape();
            return tokens.getManager().ones(new Shape(shape.get(0), shape.get(1)), tokens.getDataType(),
                    tokens.getDevice());
        }
        return mask.stopGradient().toType(tokens.getDataType(), false);
    }
}
