package dev.modalign.plugins.distill;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import dev.modalign.api.ComponentContext;
import dev.modalign.testkit.TestContext;
import java.util.List;
import java.util.Map;

/** The loss contract for distill, with one teacher pair. */
class DistillLossContractTest extends AbstractLossContractTest<DistillLoss.Params> {

    @Override
    protected ComponentFactory<DistillLoss.Params, Loss> factory() {
        return DistillPlugin.DISTILL;
    }

    @Override
    protected DistillLoss.Params params() {
        return new DistillLoss.Params(List.of(List.of("teacher_image", "teacher_text")), 0.07, 0.5, 0.07, 100);
    }

    /** The batch holds the teachers' embeddings too (their towers are not the loss's own). */
    @Override
    protected List<String> towers() {
        return List.of("image", "text", "teacher_image", "teacher_text");
    }

    @Override
    protected ComponentContext context() {
        Map<String, Integer> dims = new java.util.LinkedHashMap<>();
        towers().forEach(t -> dims.put(t, embedDim()));
        return TestContext.builder().optTowers(List.of("image", "text")).optEmbedDims(dims).build();
    }
}
