package dev.modalign.core.compose;

import dev.modalign.api.GradientCombiner;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Evaluator;
import dev.modalign.api.Loss;
import dev.modalign.core.config.ExperimentSpec;
import dev.modalign.core.plugin.LoadedPlugin;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Everything a run needs, composed and checked: the components created from their factories, the
 * resolved configuration (defaults filled in) and the plugins that provide them.
 *
 * @param file the experiment file
 * @param spec the bound experiment
 * @param resolved the resolved configuration as nested maps, every default filled in
 * @param towers the towers, in the order the file declares them
 * @param losses the weighted losses
 * @param evaluators the evaluators
 * @param train the training data
 * @param eval the evaluation data, or null
 * @param plugins the plugins whose components the run uses
 * @param gradient the gradient policy of {@code train.gradient}, or null: the summed loss is back-propagated once
 */
public record RunPlan(Path file, ExperimentSpec spec, Map<String, Object> resolved, List<Tower> towers,
        List<WeightedLoss> losses, List<NamedEvaluator> evaluators, Data train, Data eval, List<LoadedPlugin> plugins,
        GradientCombiner gradient) {

    /** A loss with its weight and a unique name for its metrics (the type, numbered when repeated). */
    public record WeightedLoss(String name, Loss loss, double weight, List<String> towers) {}

    /**
     * An evaluator with a unique name for its metrics.
     *
     * @param every evaluate every this many epochs during training too (0: only after training)
     */
    public record NamedEvaluator(String name, Evaluator evaluator, List<String> towers, int every) {

        /** Whether it runs after {@code epoch} (0-based) of {@code epochs}, before the final evaluation. */
        public boolean dueAfter(int epoch, int epochs) {
            return every > 0 && (epoch + 1) % every == 0 && epoch + 1 < epochs;
        }
    }

    /**
     * A data set, the record field holding labels (if any), and the record field each tower reads
     * where it differs from the tower's name (train and eval sets may name their fields differently).
     */
    public record Data(DatasetSource source, String labelField, Map<String, String> fields) {

        public Data {
            fields = Map.copyOf(fields);
        }

        /** The towers, each reading this data set's field for it (the training set's where this one names none). */
        public List<Tower> towersReading(List<Tower> towers) {
            return towers.stream().map(tower -> tower.reading(fields.getOrDefault(tower.name(), tower.field()))).toList();
        }
    }
}
