package dev.modalign.plugins.evaluators;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Evaluators of frozen embeddings: zero-shot, linear probe, k-NN, few-shot, and the geometry of the shared space. */
public final class EvaluatorsPlugin implements Plugin {

    static final ComponentFactory<ZeroShotEvaluator.Params, Evaluator> ZERO_SHOT = ComponentFactory.of(
            ZeroShotEvaluator.NAME,
            "Zero-shot classification by prompts encoded with the trained prompt tower, with prompt ensembles (CLIP,"
                    + " Radford et al. 2021): top1, top5, mean and per-class accuracy",
            ZeroShotEvaluator.Params.class,
            ZeroShotEvaluator::new);

    static final ComponentFactory<LinearProbeEvaluator.Params, Evaluator> LINEAR_PROBE = ComponentFactory.of(
            LinearProbeEvaluator.NAME,
            "Linear probe: L-BFGS logistic regression on frozen unit embeddings, L2 chosen on a validation split, tested"
                    + " on a seeded stratified hold-out: top1, top5, best_l2",
            LinearProbeEvaluator.Params.class,
            LinearProbeEvaluator::new);

    static final ComponentFactory<KnnEvaluator.Params, Evaluator> KNN = ComponentFactory.of(
            KnnEvaluator.NAME,
            "Weighted k-NN accuracy, votes exp(cos / T) (Wu et al. 2018, as in DINO), memory and queries a seeded"
                    + " stratified split: top1, top5",
            KnnEvaluator.Params.class,
            KnnEvaluator::new);

    static final ComponentFactory<FewShotEvaluator.Params, Evaluator> FEW_SHOT = ComponentFactory.of(
            FewShotEvaluator.NAME,
            "Few-shot accuracy of nearest class centroids from k examples per class, mean and std over seeded episodes",
            FewShotEvaluator.Params.class,
            FewShotEvaluator::new);

    static final ComponentFactory<GeometryEvaluator.Params, Evaluator> GEOMETRY = ComponentFactory.of(
            GeometryEvaluator.NAME,
            "Geometry of two paired towers: alignment and uniformity (Wang and Isola 2020), the modality gap (Liang et"
                    + " al. 2022) as centroid distance and linear separability, and a PCA plot",
            GeometryEvaluator.Params.class,
            GeometryEvaluator::new);

    @Override
    public String name() {
        return "evaluators";
    }

    @Override
    public String version() {
        return "0.1.0";
    }

    @Override
    public String apiVersion() {
        return ModalignApi.VERSION;
    }

    @Override
    public List<ComponentFactory<?, Evaluator>> evaluators() {
        return List.of(ZERO_SHOT, LINEAR_PROBE, KNN, FEW_SHOT, GEOMETRY);
    }
}
