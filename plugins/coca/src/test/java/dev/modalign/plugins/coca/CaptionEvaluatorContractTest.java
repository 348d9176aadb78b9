package dev.modalign.plugins.coca;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.AbstractEvaluatorContractTest;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

class CaptionEvaluatorContractTest extends AbstractEvaluatorContractTest<CaptionEvaluator.Params> {

    private NDManager parameters;

    /** The run's captioning loss, whose decoder the evaluator captions with. */
    @BeforeEach
    void createTheCaptioner() {
        parameters = NDManager.newBaseManager();
        LossFixtures.newLoss(CocaPlugin.CAPTIONING, new CaptioningLoss.Params(16, 1, 2, 40, 6),
                TestContext.builder().optTowers(List.of("image", "text")).optEmbedDims(Map.of("image", 8, "text", 8))
                        .build(), parameters);
    }

    @AfterEach
    void closeParameters() {
        parameters.close();
    }

    @Override
    protected ComponentFactory<CaptionEvaluator.Params, Evaluator> factory() {
        return CocaPlugin.CAPTIONS;
    }

    @Override
    protected CaptionEvaluator.Params params() {
        return new CaptionEvaluator.Params(5, "", "caption", true);
    }

    @Override
    protected List<String> towers() {
        return List.of("image");
    }

    @Override
    protected FixedEvalContext context(NDManager manager) {
        FixedEvalContext context = super.context(manager);
        return context.tokens("image", manager.randomNormal(new Shape(40, 3, 8)), manager.ones(new Shape(40, 3)));
    }
}
