package dev.modalign.plugins.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.ConstantInitializer;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EncodedBatch;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.LossOutput;
import dev.modalign.api.Scalars;
import dev.modalign.api.StepContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Similarity-distribution distillation, as in MobileCLIP's multi-modal reinforced training ("MobileCLIP:
 * Fast Image-Text Models through Multi-Modal Reinforced Training", Vasu et al., CVPR 2024, Eq. 1-2):
 * the student pair's in-batch similarity distribution is pulled towards each frozen teacher pair's,
 * beside the usual CLIP loss.
 *
 * <pre>
 *   S  = exp(t) u v^T                           student logits, u, v the student towers' unit rows
 *   T_k = (x_k y_k^T) / tau_k                   teacher k's logits, x_k, y_k its towers' unit rows
 *   L_distill = 1/K sum_k (KL(softmax_row(T_k) || softmax_row(S)) + KL(softmax_col(T_k) || softmax_col(S))) / 2
 *   L = (1 - lambda) L_clip(S) + lambda L_distill
 * </pre>
 *
 * KL is averaged over the rows (columns) of the batch. A teacher pair may name one tower twice: a text
 * teacher's caption-to-caption similarities then stand for the image-to-caption ones it cannot see
 * (tinyCLAP distils the teacher's similarities into a smaller student in the same way). Teachers'
 * embeddings are constants: declare their towers frozen. A frozen {@code onnx-text} teacher computes
 * each caption once and keeps it on disk, MobileCLIP's "reinforced data set".
 */
public final class DistillLoss implements Loss {

    /**
     * @param teachers teacher tower pairs [x, y] aligned with the student towers
     * @param teacherTemperature tau_k of each teacher (one value for all)
     * @param lambda the weight of the distillation term
     * @param temperature the student's initial temperature (learned, as in CLIP)
     */
    public record Params(
            @Doc("Teacher tower pairs [x, y], each aligned with the student towers [a, b]; a pair may name one "
                    + "tower twice") List<List<String>> teachers,
            @Doc("Temperature of the teachers' logits") @Default("0.07") double teacherTemperature,
            @Doc("Weight of the distillation term; 1 - lambda weighs the CLIP loss (MobileCLIP: 0.7 with its data)")
                    @Default("0.5") double lambda,
            @Doc("The student's initial softmax temperature, learned as CLIP's logit_scale") @Default("0.07")
                    double temperature,
            @Doc("Cap on the student's logit scale") @Default("100") double maxLogitScale) {

        public Params {
            if (teachers == null || teachers.isEmpty()) {
                throw new InvalidParamException("teachers", "name at least one teacher pair, e.g. [[minilm, minilm]]");
            }
            for (List<String> pair : teachers) {
                if (pair == null || pair.size() != 2) {
                    throw new InvalidParamException("teachers", "each teacher is a pair of towers [x, y], found " + pair);
                }
            }
            teachers = teachers.stream().map(List::copyOf).toList();
            if (!(lambda >= 0 && lambda <= 1)) {
                throw new InvalidParamException("lambda", "is a weight in [0, 1], found " + lambda);
            }
            if (!(teacherTemperature > 0) || !(temperature > 0)) {
                throw new InvalidParamException(teacherTemperature > 0 ? "temperature" : "teacher_temperature",
                        "must be > 0");
            }
            if (!(maxLogitScale >= 1 / temperature)) {
                throw new InvalidParamException("max_logit_scale", "must be at least 1 / temperature = " + (1 / temperature));
            }
        }
    }

    private final String a;
    private final String b;
    private final List<List<String>> teachers;
    private final float teacherTemperature;
    private final float lambda;
    private final float cap;
    private final Parameter logitScale;

    public DistillLoss(Params params, ComponentContext context) {
        List<String> towers = context.towers();
        if (towers.size() != 2 || towers.get(0).equals(towers.get(1))) {
            throw new InvalidParamException("towers", "distill trains two different student towers [a, b], found " + towers
                    + "; teachers go under teachers:");
        }
        a = towers.get(0);
        b = towers.get(1);
        List<List<String>> pairs = new ArrayList<>();
        for (List<String> pair : params.teachers()) {
            for (String teacher : pair) {
                if (towers.contains(teacher)) {
                    throw new InvalidParamException("teachers", "tower '" + teacher + "' is a student here; a teacher "
                            + "is a frozen tower of its own (e.g. a pretrained one reading the same field)");
                }
                context.embedDim(teacher);
            }
            pairs.add(pair);
        }
        teachers = List.copyOf(pairs);
        teacherTemperature = (float) params.teacherTemperature();
        lambda = (float) params.lambda();
        cap = (float) Math.log(params.maxLogitScale());
        logitScale = Parameter.builder().setName("logit_scale").setType(Parameter.Type.OTHER).optShape(new Shape())
                .optInitializer(new ConstantInitializer((float) Math.log(1 / params.temperature()))).build();
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(logitScale);
    }

    @Override
    public LossOutput compute(EncodedBatch batch, StepContext context) {
        NDManager manager = context.manager();
        NDArray u = Scalars.normalise(batch.tower(a).embedding());
        NDArray v = Scalars.normalise(batch.tower(b).embedding());
        long rows = u.getShape().get(0);
        NDArray scale = logitScale.getArray().toType(DataType.FLOAT32, true);
        scale.attach(manager);
        NDArray logits = u.matMul(v.transpose()).mul(scale.clip(Float.NEGATIVE_INFINITY, cap).exp());
        NDArray rowLog = logits.logSoftmax(1);
        NDArray columnLog = logits.logSoftmax(0);
        NDArray diagonal = manager.eye((int) rows, (int) rows, 0, logits.getDataType());
        NDArray clip = Scalars.div(rowLog.mul(diagonal).sum().add(columnLog.mul(diagonal).sum()), -2.0 * rows);

        NDArray distill = null;
        for (List<String> pair : teachers) {
            NDArray x = Scalars.normalise(batch.tower(pair.get(0)).embedding().stopGradient());
            NDArray y = Scalars.normalise(batch.tower(pair.get(1)).embedding().stopGradient());
            NDArray teacher = Scalars.div(x.matMul(y.transpose()), teacherTemperature);
            NDArray rowTargets = teacher.softmax(1);
            NDArray columnTargets = teacher.softmax(0);
            // KL(P || Q) = sum P (log P - log Q); the log P term has no gradient but keeps the value a divergence.
            NDArray rowKl = rowTargets.mul(teacher.logSoftmax(1).sub(rowLog)).sum();
            NDArray columnKl = columnTargets.mul(teacher.logSoftmax(0).sub(columnLog)).sum();
            NDArray term = Scalars.div(rowKl.add(columnKl), 2.0 * rows);
            distill = distill == null ? term : distill.add(term);
        }
        distill = Scalars.div(distill, teachers.size());
        NDArray loss = Scalars.mul(clip, 1 - lambda).add(Scalars.mul(distill, lambda));
        Map<String, NDArray> metrics = new LinkedHashMap<>();
        metrics.put("clip", clip.stopGradient());
        metrics.put("kl", distill.stopGradient());
        metrics.put("temperature", scale.stopGradient().clip(Float.NEGATIVE_INFINITY, cap).neg().exp());
        return new LossOutput(loss, metrics);
    }

    /** Caps the learned scale as CLIP does (Radford et al., Section 2.5). */
    @Override
    public void afterStep(EncodedBatch batch, StepContext context) {
        if (logitScale.getArray().getFloat() > cap) {
            logitScale.getArray().set(new float[] {cap});
        }
    }
}
