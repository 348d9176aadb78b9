package dev.modalign.plugins.gradharm;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.GradientCombiner;
import dev.modalign.testkit.AbstractGradientCombinerContractTest;

/** The gradient policy contract with every part on: realignment over all parameters and the curriculum. */
class GradHarmCurriculumContractTest extends AbstractGradientCombinerContractTest<GradHarm.Params> {

    @Override
    protected ComponentFactory<GradHarm.Params, GradientCombiner> factory() {
        return GradHarmPlugin.GRADHARM;
    }

    @Override
    protected GradHarm.Params params() {
        return new GradHarm.Params(true, "all", 0.5, -1, 0.5, 0.1);
    }
}
