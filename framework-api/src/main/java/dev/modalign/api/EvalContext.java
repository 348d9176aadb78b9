package dev.modalign.api;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The evaluation set, encoded by the trained towers. Encoding happens once per tower and is shared
 * by all evaluators of a run.
 */
public interface EvalContext {

    /** The towers this evaluator was asked to use, in the order its YAML block names them. */
    List<String> towers();

    /** A tower's embeddings of every evaluation record, float32 [N, D], not normalised, in record order. */
    NDArray embeddings(String tower);

    /**
     * A tower's embeddings [N, D] with its token features [N, T, D] and mask [N, T] (1 for real tokens), where
     * its encoder gives tokens and an evaluator of the run asked for them ({@link Evaluator#needsTokens()}).
     */
    Optional<TowerOutput> tokenOutputs(String tower);

    /** Class labels of the records, where the data has them; int64 [N]. */
    Optional<NDArray> labels();

    /** The record ids, in order; rows with equal group ids are the same item (e.g. several captions). */
    List<String> groupIds();

    /** A manager for the evaluator's arrays, closed after the evaluator returns. */
    NDManager manager();

    /**
     * Encodes values the evaluator brings itself (zero-shot class prompts, for instance) with a trained
     * tower: each value is decoded by the tower's modality as a record field would be (a {@link String}
     * for text), without augmentation. float32 [N, D], not normalised, in the order given, owned by
     * {@link #manager()}.
     *
     * @throws IllegalArgumentException when there is no such tower or its modality cannot decode a value
     */
    default NDArray encode(String tower, List<?> rawValues) {
        throw new UnsupportedOperationException("this host cannot encode values an evaluator brings (API 1.0)");
    }

    /**
     * The raw field values (a {@link String} for text, ...) that a tower's evaluation records were decoded from,
     * in record order: for evaluators that perturb the inputs themselves (a caption with two words swapped) and
     * encode the result with {@link #encode}.
     *
     * @throws IllegalArgumentException when there is no such tower
     * @since API 1.3
     */
    default List<Object> rawValues(String tower) {
        throw new UnsupportedOperationException("this host cannot give an evaluator the raw values (API < 1.3)");
    }

    /** The run's seed, for evaluators that split or sample the evaluation set. */
    default long seed() {
        return 0;
    }

    /** A directory for artifacts (plots, tables); files listed in the result are logged with the run. */
    Path artifactDir();
}
