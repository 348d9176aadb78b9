package dev.modalign.plugins.gradharm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.GradientCombiner;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cross-modality gradient harmonisation, from "Scaling Multimodal Pre-Training via Cross-Modality Gradient
 * Harmonization" (Wu et al., NeurIPS 2022), as a gradient policy ({@code train.gradient: {type: gradharm}}) over
 * the experiment's loss terms, typically pairwise contrastive losses that share a tower (image-text and
 * audio-text share the text tower, as VATT's video-audio and video-text losses share the video one).
 *
 * <p><b>Gradient realignment.</b> For two terms i and j, the cosine of their gradients g_i and g_j is taken over
 * the parameters both read (with {@code scope: shared}; every parameter with {@code scope: all}, a term's
 * gradient being zero where it does not read). When it is negative the terms conflict, and g_i is projected
 * onto the normal plane of g_j over those parameters,
 *
 * <pre>  g_i &lt;- g_i - (g_i . g_j / |g_j|^2) g_j</pre>
 *
 * and g_j likewise onto the normal plane of the original g_i (the projection of PCGrad, "Gradient Surgery for
 * Multi-Task Learning", Yu et al., NeurIPS 2020, which the paper applies to cross-modal losses). With more than
 * two terms each term is projected against every other in the experiment's order, the dot product taken with
 * the term as projected so far. The combined gradient is the sum of the (realigned) terms; without a conflict
 * it is the plain sum, bit for bit the gradients the terms gave.
 *
 * <p><b>Curriculum.</b> The step's agreement is the least of its pairwise cosines (before realignment); a step
 * whose agreement is below the {@link ConflictCurriculum} threshold has its combined gradient multiplied by
 * {@code drop_weight} (0: the step is dropped; AdamW's moments still carry earlier steps).
 *
 * <p>Metrics (train/gradient/...): {@code cos/<i>~<j>} per pair of terms that share parameters, {@code
 * conflict/<i>~<j>} (1 when negative), {@code conflict_share} (steps with any conflict, since this process
 * started the run or resumed it), {@code projected} (projections this step), and with the curriculum {@code
 * curriculum/threshold}, {@code curriculum/kept} (1 or 0) and {@code curriculum/kept_share}.
 */
public final class GradHarm implements GradientCombiner {

    /** The policy's parameters. */
    public record Params(
            @Doc("Project conflicting terms' gradients onto each other's normal plane (gradient realignment).")
                    @Default("true") boolean realign,
            @Doc("Parameters the cosine and the projection cover: shared (those both terms read) or all.")
                    @Default("shared") String scope,
            @Doc("Curriculum threshold on the step's least gradient cosine at the first step; a step below it is "
                    + "down-weighted. -1 with curriculum_end -1: no curriculum; 0: conflicting steps dropped at first.")
                    @Default("-1.0") double curriculumStart,
            @Doc("Curriculum threshold from curriculum_fraction of the run on (-1: every step kept).")
                    @Default("-1.0") double curriculumEnd,
            @Doc("Share of the run over which the threshold moves linearly from curriculum_start to curriculum_end.")
                    @Default("0.5") double curriculumFraction,
            @Doc("Weight of a step the curriculum turns away (0: dropped).") @Default("0.0") double dropWeight) {

        public Params {
            if (!"shared".equals(scope) && !"all".equals(scope)) {
                throw new InvalidParamException("scope", "must be shared or all, found '" + scope + "'");
            }
            if (curriculumStart < -1 || curriculumStart > 1) {
                throw new InvalidParamException("curriculum_start", "is a cosine in [-1, 1], found " + curriculumStart);
            }
            if (curriculumEnd < -1 || curriculumEnd > 1) {
                throw new InvalidParamException("curriculum_end", "is a cosine in [-1, 1], found " + curriculumEnd);
            }
            if (!(curriculumFraction >= 0 && curriculumFraction <= 1)) {
                throw new InvalidParamException("curriculum_fraction", "is a share of the run in [0, 1], found "
                        + curriculumFraction);
            }
            if (!(dropWeight >= 0 && dropWeight <= 1)) {
                throw new InvalidParamException("drop_weight", "must be in [0, 1], found " + dropWeight);
            }
        }
    }

    private final Params params;
    private final ConflictCurriculum curriculum;
    private long steps;
    private long conflicting;
    private long kept;

    GradHarm(Params params, ComponentContext context) {
        this.params = params;
        this.curriculum = new ConflictCurriculum(params.curriculumStart(), params.curriculumEnd(),
                params.curriculumFraction());
    }

    private boolean curriculumOn() {
        return params.curriculumStart() > -1 || params.curriculumEnd() > -1;
    }

    @Override
    public Combined combine(TermGradients gradients, StepContext context) {
        int terms = gradients.terms().size();
        int parameters = gradients.parameters().size();
        List<List<NDArray>> g = gradients.gradients();
        boolean shared = params.scope().equals("shared");
        Map<String, Double> metrics = new LinkedHashMap<>();

        // The pairwise cosines of the gradients as the terms gave them.
        double agreement = Double.POSITIVE_INFINITY;
        boolean anyConflict = false;
        for (int i = 0; i < terms; i++) {
            for (int j = i + 1; j < terms; j++) {
                List<Integer> over = covered(g.get(i), g.get(j), shared);
                if (over.isEmpty()) {
                    continue;
                }
                double dot = dot(g.get(i), g.get(j), over);
                double norms = Math.sqrt(dot(g.get(i), g.get(i), over) * dot(g.get(j), g.get(j), over));
                double cosine = norms > 0 ? dot / norms : 0;
                String pair = gradients.terms().get(i) + "~" + gradients.terms().get(j);
                metrics.put("cos/" + pair, cosine);
                metrics.put("conflict/" + pair, cosine < 0 ? 1.0 : 0.0);
                agreement = Math.min(agreement, cosine);
                anyConflict |= cosine < 0;
            }
        }

        // Gradient realignment: each term projected off the others it conflicts with (PCGrad's order: the dot
        // product with the term as projected so far, against the others as given).
        List<List<NDArray>> realigned = new ArrayList<>();
        int projected = 0;
        for (int i = 0; i < terms; i++) {
            List<NDArray> mine = new ArrayList<>(g.get(i));
            if (params.realign()) {
                for (int j = 0; j < terms; j++) {
                    if (j == i) {
                        continue;
                    }
                    List<Integer> over = covered(mine, g.get(j), shared);
                    if (over.isEmpty()) {
                        continue;
                    }
                    double dot = dot(mine, g.get(j), over);
                    double squared = dot(g.get(j), g.get(j), over);
                    if (dot < 0 && squared > 0) {
                        double coefficient = dot / squared;
                        for (int p : over) {
                            NDArray other = g.get(j).get(p);
                            if (other == null) {
                                continue; // scope all: g_j is zero here, and so is its share of the projection
                            }
                            NDArray own = mine.get(p);
                            NDArray step = Scalars.mul(other, coefficient);
                            mine.set(p, own == null ? step.neg() : own.sub(step));
                        }
                        projected++;
                    }
                }
            }
            realigned.add(mine);
        }

        List<NDArray> combined = new ArrayList<>(parameters);
        for (int p = 0; p < parameters; p++) {
            NDArray sum = null;
            for (int i = 0; i < terms; i++) {
                NDArray term = realigned.get(i).get(p);
                if (term != null) {
                    sum = sum == null ? term : sum.add(term);
                }
            }
            combined.add(sum);
        }

        steps++;
        conflicting += anyConflict ? 1 : 0;
        metrics.put("conflict_share", conflicting / (double) steps);
        metrics.put("projected", (double) projected);
        if (curriculumOn()) {
            double threshold = curriculum.threshold(context.step(), context.totalSteps());
            boolean keep = agreement == Double.POSITIVE_INFINITY
                    || curriculum.keeps(agreement, context.step(), context.totalSteps());
            kept += keep ? 1 : 0;
            metrics.put("curriculum/threshold", threshold);
            metrics.put("curriculum/kept", keep ? 1.0 : 0.0);
            metrics.put("curriculum/kept_share", kept / (double) steps);
            if (!keep) {
                combined.replaceAll(sum -> sum == null ? null : Scalars.mul(sum, params.dropWeight()));
            }
        }
        return new Combined(combined, metrics);
    }

    /**
     * The parameters the cosine and projection of terms a and b cover: those both read (shared), or those
     * either reads (all; the other's gradient counts as zero).
     */
    private static List<Integer> covered(List<NDArray> a, List<NDArray> b, boolean shared) {
        List<Integer> over = new ArrayList<>();
        for (int p = 0; p < a.size(); p++) {
            if (shared ? a.get(p) != null && b.get(p) != null : a.get(p) != null || b.get(p) != null) {
                over.add(p);
            }
        }
        return over;
    }

    /** The dot product of two terms' gradients over some parameters, in float64 (null: zero). */
    private static double dot(List<NDArray> a, List<NDArray> b, List<Integer> over) {
        NDArray total = null;
        for (int p : over) {
            NDArray x = a.get(p);
            NDArray y = b.get(p);
            if (x == null || y == null) {
                continue;
            }
            NDArray product = x.toType(DataType.FLOAT64, false).mul(y.toType(DataType.FLOAT64, false)).sum();
            total = total == null ? product : total.add(product);
        }
        return total == null ? 0 : total.getDouble();
    }
}
