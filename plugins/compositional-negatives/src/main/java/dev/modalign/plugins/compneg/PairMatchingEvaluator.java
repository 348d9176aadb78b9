package dev.modalign.plugins.compneg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Scalars;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * Pair matching in the manner of ARO ("When and why vision-language models behave like bags-of-words, and what to
 * do about it?", Yuksekgonul et al., ICLR 2023, Section 3) and Winoground's text score (Thrush et al., CVPR
 * 2022): for each evaluation image, is its true caption closer to it than the same caption perturbed? Each
 * record's caption (its raw text, API 1.3's {@link EvalContext#rawValues}) is perturbed once by each {@link
 * CaptionPerturbation} that applies, the perturbed captions are encoded with the trained text tower, and
 *
 * <pre>
 *   correct_i = 1 if cos(image_i, caption_i) > cos(image_i, perturbed_i), 1/2 if equal, 0 if below
 * </pre>
 *
 * <p>A model that reads captions as bags of words scores exactly 1/2 on shuffle-words and swap-words (the same
 * words give the same embedding), which is chance; 1 is a model that always prefers the true order. Metrics:
 * {@code <perturbation>/accuracy} and {@code <perturbation>/n} (records it applied to), {@code accuracy} (the
 * mean over the perturbations that applied to any record) and {@code chance} (0.5). A tie counts half, as a
 * random tie-break would in expectation, so a collapsed model scores chance, not 1 or 0.
 *
 * <p>Replacements borrow head nouns from the other captions of the evaluation set. The draws are a function of
 * the run's seed and the record's position, so two runs of one seed score the same perturbed captions.
 */
public final class PairMatchingEvaluator implements Evaluator {

    /**
     * @param perturbations the perturbations to score, each separately
     * @param maxWords only the first max_words words of a caption are perturbed
     */
    public record Params(
            @Doc("The perturbations to score, each on its own: swap-words, shuffle-words, swap-phrases, replace-word")
            @Default("[swap-words, shuffle-words, swap-phrases, replace-word]") List<String> perturbations,
            @Doc("Only the first max_words words of a caption are perturbed; keep it below the text modality's max_len"
                    + " minus its special tokens") @Default("15") int maxWords) {

        public Params {
            CaptionPerturbation.parse(perturbations, "perturbations");
            perturbations = List.copyOf(perturbations);
            if (maxWords < 2) {
                throw new InvalidParamException("max_words", "must be at least 2, found " + maxWords);
            }
        }
    }

    static final String NAME = "pair-matching";

    private final List<CaptionPerturbation> perturbations;
    private final int maxWords;

    public PairMatchingEvaluator(Params params, ComponentContext context) {
        requireTowers(context.towers());
        this.perturbations = CaptionPerturbation.parse(params.perturbations(), "perturbations");
        this.maxWords = params.maxWords();
    }

    private static void requireTowers(List<String> towers) {
        if (towers.size() != 2 || towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", NAME + " reads two towers, the image tower and then the text"
                    + " tower whose captions it perturbs, found " + towers + "; e.g. [image, text]");
        }
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        String imageTower = context.towers().get(0);
        String textTower = context.towers().get(1);
        List<String> captions = context.rawValues(textTower).stream().map(String::valueOf).toList();
        Map<String, Double> metrics = new LinkedHashMap<>();
        double sum = 0;
        int scored = 0;
        try (NDManager scope = context.manager().newSubManager()) {
            NDArray images = context.embeddings(imageTower);
            NDArray texts = context.embeddings(textTower);
            scope.tempAttachAll(images, texts);
            float[][] u = rows(Scalars.normalise(images.toType(DataType.FLOAT32, false)));
            float[][] v = rows(Scalars.normalise(texts.toType(DataType.FLOAT32, false)));
            if (u.length != captions.size() || v.length != captions.size()) {
                throw new IllegalArgumentException(NAME + ": " + u.length + " image rows, " + v.length + " text rows and "
                        + captions.size() + " captions; the towers must read the same records");
            }
            for (int k = 0; k < perturbations.size(); k++) {
                CaptionPerturbation perturbation = perturbations.get(k);
                List<Integer> records = new ArrayList<>();
                List<String> perturbed = new ArrayList<>();
                for (int i = 0; i < captions.size(); i++) {
                    Random rng = new Random(context.seed() * 1_000_003L + i * 31L + k);
                    Optional<String> negative = perturbation.apply(captions.get(i), captions, maxWords, rng);
                    if (negative.isPresent()) {
                        records.add(i);
                        perturbed.add(negative.get());
                    }
                }
                metrics.put(perturbation.yamlName() + "/n", (double) records.size());
                if (records.isEmpty()) {
                    continue;
                }
                NDArray encoded = context.encode(textTower, perturbed);
                scope.tempAttachAll(encoded);
                float[][] w = rows(Scalars.normalise(encoded.toType(DataType.FLOAT32, false)));
                double correct = 0;
                for (int r = 0; r < records.size(); r++) {
                    int i = records.get(r);
                    correct += score(dot(u[i], v[i]), dot(u[i], w[r]));
                }
                double accuracy = correct / records.size();
                metrics.put(perturbation.yamlName() + "/accuracy", accuracy);
                sum += accuracy;
                scored++;
            }
        }
        if (scored > 0) {
            metrics.put("accuracy", sum / scored);
        }
        metrics.put("chance", 0.5);
        return new EvalResult(metrics);
    }

    /** 1 when the true caption scores higher, 1/2 on a tie (within float32 rounding), 0 below. */
    static double score(double positive, double negative) {
        double tolerance = 1e-6;
        if (positive > negative + tolerance) {
            return 1;
        }
        return positive >= negative - tolerance ? 0.5 : 0;
    }

    private static float[][] rows(NDArray matrix) {
        int n = Math.toIntExact(matrix.getShape().get(0));
        int d = Math.toIntExact(matrix.getShape().get(1));
        float[] flat = matrix.toFloatArray();
        float[][] rows = new float[n][];
        for (int i = 0; i < n; i++) {
            rows[i] = java.util.Arrays.copyOfRange(flat, i * d, (i + 1) * d);
        }
        return rows;
    }

    private static double dot(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += (double) a[i] * b[i];
        }
        return sum;
    }
}
