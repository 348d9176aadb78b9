package dev.modalign.plugins.gist;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.ComponentFactory;
import dev.modalign.api.Loss;
import dev.modalign.testkit.AbstractLossContractTest;
import dev.modalign.testkit.TestContext;
import java.util.List;

/**
 * The loss contract for GIST: the batch has three towers, a and b contrasted and c the guide (with
 * gradients attached, which the loss must leave untouched); the loss's own towers are a and b.
 */
class GistLossContractTest extends AbstractLossContractTest<GistLoss.Params> {

    @Override
    protected ComponentFactory<GistLoss.Params, Loss> factory() {
        return GistPlugin.GIST;
    }

    @Override
    protected GistLoss.Params params() {
        return new GistLoss.Params(List.of("c"), 0.01, 0.3);
    }

    @Override
    protected List<String> towers() {
        return List.of("a", "b", "c");
    }

    @Override
    protected ComponentContext context() {
        // Every tower has an embedding size; the loss's towers (its YAML towers: key) are a and b.
        return TestContext.builder().optTowers(towers(), embedDim()).optTowers(List.of("a", "b"), embedDim()).build();
    }
}
