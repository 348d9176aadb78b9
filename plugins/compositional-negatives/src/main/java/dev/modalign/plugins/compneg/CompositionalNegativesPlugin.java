package dev.modalign.plugins.compneg;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.api.Loss;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/** Compositional hard negatives: a loss that trains against perturbed captions, and an evaluator that tests them. */
public final class CompositionalNegativesPlugin implements Plugin {

    static final ComponentFactory<HardNegativeClipLoss.Params, Loss> LOSS = ComponentFactory.of(
            HardNegativeClipLoss.NAME,
            "CLIP's InfoNCE with hard-negative captions (words swapped or shuffled, phrases swapped, a word replaced"
                    + " by one of its kind) in the image-to-text denominators, as NegCLIP (\"When and why"
                    + " vision-language models behave like bags-of-words, and what to do about it?\", Yuksekgonul et"
                    + " al., ICLR 2023) and Structure-CLIP (Huang et al., AAAI 2024); needs host API 1.3",
            HardNegativeClipLoss.Params.class,
            HardNegativeClipLoss::new);

    static final ComponentFactory<PairMatchingEvaluator.Params, Evaluator> PAIR_MATCHING = ComponentFactory.of(
            PairMatchingEvaluator.NAME,
            "ARO/Winoground-style pair matching: for each image, is its caption closer than the caption perturbed;"
                    + " accuracy per perturbation, chance 0.5 (\"When and why vision-language models behave like"
                    + " bags-of-words, and what to do about it?\", Yuksekgonul et al., ICLR 2023)",
            PairMatchingEvaluator.Params.class,
            PairMatchingEvaluator::new);

    @Override
    public String name() {
        return "compositional-negatives";
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
    public List<ComponentFactory<?, Loss>> losses() {
        return List.of(LOSS);
    }

    @Override
    public List<ComponentFactory<?, Evaluator>> evaluators() {
        return List.of(PAIR_MATCHING);
    }
}
