package dev.modalign.plugins.gradharm;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.GradientCombiner;
import dev.modalign.testkit.AbstractGradientCombinerContractTest;

/** The gradient policy contract, with realignment and the defaults (no curriculum). */
class GradHarmContractTest extends AbstractGradientCombinerContractTest<GradHarm.Params> {

    @Override
    protected ComponentFactory<GradHarm.Params, GradientCombiner> factory() {
        return GradHarmPlugin.GRADHARM;
    }

    @Override
    protected GradHarm.Params params() {
        return new GradHarm.Params(true, "shared", -1, -1, 0.5, 0);
    }
}
