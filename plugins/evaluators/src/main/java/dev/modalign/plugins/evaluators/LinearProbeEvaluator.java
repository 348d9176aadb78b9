package dev.modalign.plugins.evaluators;

import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The linear probe: how linearly the frozen, L2-normalised embeddings of one tower separate the
 * classes of the evaluation set. The set is split by the run's seed, class by class, into a fit part
 * and a test part ({@link StratifiedSplit}); a multinomial {@link LogisticRegression} is fitted on
 * the fit part with the L2 strength that does best on a validation split of it, and scored on the
 * test part. Protocol of "Learning Transferable Visual Models From Natural Language Supervision"
 * (Radford et al., 2021), Section 3.2, on one set split in two.
 *
 * <p>Metrics: {@code top1}, {@code top5} (when there are more than 5 classes), and {@code best_l2},
 * the chosen strength. Ties are scored as {@link ClassificationAccuracy} says.
 */
public final class LinearProbeEvaluator implements Evaluator {

    /**
     * @param testFraction the fraction of each class held out to test
     * @param l2 the L2 strengths to choose from
     * @param validationFraction the fraction of the fit part that chooses the L2 strength
     */
    public record Params(
            @Doc("Fraction of each class's records held out to test the probe; the rest fit it") @Default("0.5")
                    double testFraction,
            @Doc("L2 strengths to try; the one with the best accuracy on a validation split of the fit part is refitted"
                    + " on the whole fit part") @Default("[1e-4, 1e-3, 1e-2, 1e-1, 1]") List<Double> l2,
            @Doc("Fraction of each class's fit records that validates the L2 strengths (unused with one strength)")
                    @Default("0.25") double validationFraction) {

        public Params {
            StratifiedSplit.checkFraction("test_fraction", testFraction);
            l2 = LogisticRegression.checkGrid("l2", l2);
            StratifiedSplit.checkFraction("validation_fraction", validationFraction);
        }
    }

    static final String NAME = "linear-probe";
    /** Mixed into the run's seed for the validation split, so that it is not the test split's draw again. */
    static final long VALIDATION_SEED = 0x9E3779B97F4A7C15L;

    private final Params params;

    public LinearProbeEvaluator(Params params, ComponentContext context) {
        EvalSet.oneTower(context.towers(), NAME);
        this.params = params;
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        String tower = EvalSet.oneTower(context.towers(), NAME);
        float[][] rows = EvalSet.unitRows(context, tower);
        int[] labels = EvalSet.labels(context, NAME, rows.length);
        int classes = EvalSet.classCount(labels);
        StratifiedSplit split = StratifiedSplit.of(labels, params.testFraction(), context.seed()).requireTestRecords(NAME);
        LogisticRegression.Selection selection = LogisticRegression.selectAndFit(
                StratifiedSplit.rows(rows, split.fit()), StratifiedSplit.labels(labels, split.fit()), classes,
                params.l2(), params.validationFraction(), context.seed() ^ VALIDATION_SEED);
        boolean topFive = EvalSet.distinctClasses(labels) > 5;
        ClassificationAccuracy accuracy = selection.model().accuracy(StratifiedSplit.rows(rows, split.test()),
                StratifiedSplit.labels(labels, split.test()), topFive ? new int[] {1, 5} : new int[] {1});
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("top1", accuracy.accuracy(0));
        if (topFive) {
            metrics.put("top5", accuracy.accuracy(1));
        }
        metrics.put("best_l2", selection.l2());
        return new EvalResult(metrics);
    }
}
