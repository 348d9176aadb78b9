package dev.modalign.plugins.modalitystructure;

import ai.djl.ndarray.NDArray;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import java.util.List;
import java.util.Map;

/**
 * The geometric consistency loss of "Understanding and Constructing Latent Modality Structures in
 * Multi-modal Representation Learning" (Jiang et al., CVPR 2023), the paper's regulariser that acts
 * both within and across modalities: the similarity structure of a batch should be the same whichever
 * modality it is measured in.
 *
 * <pre>
 *   u = a / ||a||,  v = b / ||b||                         rows L2-normalised
 *   S_ii = u u^T,  S_tt = v v^T                            intra-modal cosine similarities
 *   S_it = u v^T,  S_ti = v u^T = S_it^T                   inter-modal, in both directions
 *   loss = intra_weight * mean((S_ii - S_tt)^2) + inter_weight * mean((S_it - S_ti)^2)
 * </pre>
 *
 * <p>The first term asks image i and image j to be as alike as text i and text j are; the second asks
 * image i's similarity to text j to equal text i's similarity to image j, a symmetry contrastive
 * training does not impose. Contrastive training still does the aligning: use it beside a CLIP loss.
 * The means run over all B^2 entries, so the value does not grow with the batch. The two terms are
 * logged, unweighted, as {@code intra} and {@code inter}.
 */
public final class GeometricConsistencyLoss implements Loss {

    /**
     * @param intraWeight the weight of the intra-modal term
     * @param interWeight the weight of the inter-modal term
     */
    public record Params(
            @Doc("Weight of the intra-modal term mean((S_ii - S_tt)^2), image-image against text-text similarities")
            @Default("1.0") double intraWeight,
            @Doc("Weight of the inter-modal term mean((S_it - S_ti)^2), image-to-text against text-to-image"
                    + " similarities")
            @Default("1.0") double interWeight) {

        public Params {
            for (Map.Entry<String, Double> weight : Map.of("intra_weight", intraWeight, "inter_weight", interWeight)
                    .entrySet()) {
                if (!(weight.getValue() >= 0) || !Double.isFinite(weight.getValue())) {
                    throw new InvalidParamException(weight.getKey(), "must be a finite number >= 0, found "
                            + weight.getValue());
                }
            }
            if (intraWeight == 0 && interWeight == 0) {
                throw new InvalidParamException("intra_weight", "intra_weight and inter_weight are both 0, so the"
                        + " loss is constant; give one of them a weight > 0");
            }
        }
    }

    private final String firstTower;
    private final String secondTower;
    private final Params params;

    public GeometricConsistencyLoss(Params params, ComponentContext context) {
        List<String> towers = TowerChecks.distinct(context, "geometric-consistency", 2, 2, "[image, text]");
        TowerChecks.sameEmbedDim(context, "geometric-consistency", towers);
        this.firstTower = towers.get(0);
        this.secondTower = towers.get(1);
        this.params = params;
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDArray u = Scalars.normalise(batch.tower(firstTower).embedding());
        NDArray v = Scalars.normalise(batch.tower(secondTower).embedding());
        NDArray intraDifference = u.matMul(u.transpose()).sub(v.matMul(v.transpose()));
        NDArray crossSimilarity = u.matMul(v.transpose());
        NDArray interDifference = crossSimilarity.sub(crossSimilarity.transpose());
        NDArray intra = intraDifference.mul(intraDifference).mean();
        NDArray inter = interDifference.mul(interDifference).mean();
        NDArray loss = Scalars.mul(intra, params.intraWeight()).add(Scalars.mul(inter, params.interWeight()));
        return new LossOutput(loss, Map.of("intra", intra.stopGradient(), "inter", inter.stopGradient()));
    }
}
