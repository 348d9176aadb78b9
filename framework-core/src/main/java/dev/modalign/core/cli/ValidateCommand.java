package dev.modalign.core.cli;

import dev.modalign.core.UserError;
import dev.modalign.core.compose.RunComposer;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.sweep.SweepPlan;
import dev.modalign.core.sweep.SweepRunner;
import dev.modalign.core.sweep.Trial;
import dev.modalign.core.plugin.PluginRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code modalign validate FILE...}: checks experiments without running them. */
@Command(name = "validate", mixinStandardHelpOptions = true,
        description = "Check experiment files without running them: keys, types, component names and parameters, "
                + "towers, and that the components can be created. Exit code 2 when any file has a problem.")
final class ValidateCommand implements Callable<Integer> {

    @Parameters(paramLabel = "FILE", arity = "1..*", description = "Experiment YAML files.")
    List<Path> files;

    @Mixin
    PluginOptions plugins;

    @picocli.CommandLine.Option(names = "--set", paramLabel = "PATH=VALUE",
            description = "Override a value before checking, as for run (repeatable).")
    List<String> assignments = new ArrayList<>();

    @Override
    public Integer call() {
        PluginRegistry registry = plugins.load(System.err);
        RunComposer composer = new RunComposer(registry, Cache.directory());
        List<UserError.Problem> problems = new ArrayList<>();
        for (Path file : files) {
            try {
                org.yaml.snakeyaml.nodes.Node root = dev.modalign.core.config.YamlDocument.read(file);
                if (dev.modalign.core.stage.Stages.present(root)) {
                    validateStages(composer, file, root);
                    continue;
                }
                RunPlan plan = composer.compose(file, assignments);
                System.out.println(file + ": ok (" + count(plan.towers().size(), "tower") + ", "
                        + count(plan.losses().size(), "loss") + ", " + count(plan.evaluators().size(), "evaluator") + "; "
                        + count(plan.train().source().size(), "training record") + ")");
                if (plan.spec().sweep() != null) {
                    List<Trial> trials = SweepPlan.expand(plan.spec().sweep(), file.toString());
                    int configurations = SweepRunner.checkTrials(composer, file, trials, assignments);
                    System.out.println(file + ": sweep ok (" + count(trials.size(), "trial") + ", "
                            + count(configurations, "configuration") + ", each checked)");
                }
            } catch (UserError e) {
                problems.addAll(e.problems());
            }
        }
        if (!problems.isEmpty()) {
            throw new UserError(problems);
        }
        return Main.OK;
    }

    /** Composes every stage, with stage references checked (they resolve to a placeholder run). */
    private void validateStages(RunComposer composer, Path file, org.yaml.snakeyaml.nodes.Node root) {
        List<dev.modalign.core.stage.Stages.Stage> stages = dev.modalign.core.stage.Stages.of(root, file.toString());
        for (dev.modalign.core.stage.Stages.Stage stage : stages) {
            dev.modalign.core.stage.Stages.resolve(stage, stages, name -> "run:stage-" + name, file.toString());
            RunPlan plan = composer.compose(file, dev.modalign.core.config.Overrides.apply(stage.document(), assignments));
            System.out.println(file + ": stage " + stage.name() + " ok (" + count(plan.towers().size(), "tower") + ", "
                    + count(plan.losses().size(), "loss") + ", " + count(plan.evaluators().size(), "evaluator") + ")");
        }
        System.out.println(file + ": ok (" + count(stages.size(), "stage") + ", run in order)");
    }

    private static String count(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : noun.endsWith("s") ? "es" : "s");
    }
}
