package dev.modalign.plugins.evaluators;

import ai.djl.ndarray.NDArray;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Zero-shot classification: each class name is put into prompt templates ("a photo of a {}"),
 * the prompts are encoded by the trained prompt tower, and every evaluation record's embedding in the
 * data tower is given the class whose prompt embedding is the most cosine-similar. With several
 * templates, a class is represented by the mean of its L2-normalised prompt embeddings, normalised
 * again: the prompt ensembling of "Learning Transferable Visual Models From Natural Language
 * Supervision" (Radford et al., 2021), Section 3.1.4.
 *
 * <p>Towers: {@code [data_tower, prompt_tower]}, e.g. {@code [image, text]}. The prompts are encoded
 * with {@link EvalContext#encode}, so the prompt tower's modality must decode a string. Labels come
 * from the evaluation set ({@code label:} of data.eval); label i is the i-th class name.
 *
 * <p>Metrics: {@code top1}, {@code top5} (the top-k capped at the number of classes),
 * {@code mean_per_class} (top-1 averaged over the classes present, each weighing the same) and
 * {@code per_class/<name>} for each class present. Ties are scored as {@link ClassificationAccuracy}
 * says.
 */
public final class ZeroShotEvaluator implements Evaluator {

    /**
     * @param classes the class names, label i first at index i
     * @param classesFile a file of class names, one per line, instead of {@code classes}
     * @param prompts the templates, each with {} where the class name goes
     */
    public record Params(
            @Doc("Class names; the name at index i is the class of label i. Give this or classes_file") @Default("null")
                    List<String> classes,
            @Doc("A UTF-8 file of class names, one per line (line i names label i, blank lines skipped), relative to"
                    + " the experiment file. Give this or classes") @Default("null") String classesFile,
            @Doc("Prompt templates, {} standing for the class name, e.g. ['a photo of a {}']; with several, each class"
                    + " is the normalised mean of its prompts' unit embeddings (a prompt ensemble)") @Default("['{}']")
                    List<String> prompts) {

        public Params {
            if (classes != null && classesFile != null) {
                throw new InvalidParamException("classes", "give the class names either as classes or in classes_file, "
                        + "not both");
            }
            if (classes == null && classesFile == null) {
                throw new InvalidParamException("classes", "name the classes, label i at index i: classes: [cat, dog], or "
                        + "classes_file: classes.txt with one name per line");
            }
            if (classes != null) {
                classes = checkClasses("classes", classes);
            }
            if (prompts == null || prompts.isEmpty()) {
                throw new InvalidParamException("prompts", "must list at least one template, found " + prompts
                        + "; e.g. ['a photo of a {}']");
            }
            for (String prompt : prompts) {
                if (prompt == null || !prompt.contains("{}")) {
                    throw new InvalidParamException("prompts", "the template '" + prompt + "' has no {} where the class name"
                            + " goes; e.g. 'a photo of a {}'");
                }
            }
            prompts = List.copyOf(prompts);
        }
    }

    static final String NAME = "zero-shot";
    private static final String TOWERS_EXAMPLE = "towers: [image, text] (the records' tower, then the prompts' tower)";

    private final List<String> classNames;
    private final List<String> prompts;

    public ZeroShotEvaluator(Params params, ComponentContext context) {
        EvalSet.twoTowers(context.towers(), NAME, TOWERS_EXAMPLE);
        this.classNames = params.classes() != null ? params.classes() : readClasses(context.baseDir(), params.classesFile());
        this.prompts = params.prompts();
    }

    /** The class names, in label order. */
    List<String> classNames() {
        return classNames;
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        List<String> towers = EvalSet.twoTowers(context.towers(), NAME, TOWERS_EXAMPLE);
        float[][] records = EvalSet.unitRows(context, towers.get(0));
        int[] labels = EvalSet.labels(context, NAME, records.length);
        int classes = classNames.size();
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] >= classes) {
                throw new IllegalArgumentException(NAME + ": record " + i + " has the label " + labels[i] + " but only "
                        + classes + " class names are given (labels 0 to " + (classes - 1) + "); name every class");
            }
        }
        float[][] classRows = classEmbeddings(context, towers.get(1));
        EvalSet.requireSameDim(records, "tower '" + towers.get(0) + "'", classRows, "tower '" + towers.get(1) + "'");

        ClassificationAccuracy accuracy = new ClassificationAccuracy(classes, 1, 5);
        CosineScores.forEachBlock(context.manager(), records, classRows, (firstRecord, scores, rows) -> {
            for (int r = 0; r < rows; r++) {
                double[] classScores = new double[classes];
                for (int c = 0; c < classes; c++) {
                    classScores[c] = scores[r * classes + c];
                }
                accuracy.add(labels[firstRecord + r], classScores);
            }
        });
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("top1", accuracy.accuracy(0));
        metrics.put("top5", accuracy.accuracy(1));
        metrics.put("mean_per_class", accuracy.meanPerClass());
        List<String> metricNames = metricNames(classNames);
        for (int c : accuracy.classIndicesWithRecords()) {
            metrics.put("per_class/" + metricNames.get(c), accuracy.classAccuracy(c));
        }
        return new EvalResult(metrics);
    }

    /** Each class's prompt embedding: the normalised mean of its prompts' unit embeddings. */
    private float[][] classEmbeddings(EvalContext context, String promptTower) {
        List<String> texts = new ArrayList<>();
        for (String name : classNames) {
            for (String prompt : prompts) {
                texts.add(prompt.replace("{}", name));
            }
        }
        NDArray encoded = context.encode(promptTower, texts);
        float[][] promptRows = EvalSet.unitRows(encoded, "the class prompts encoded by tower '" + promptTower + "'");
        if (promptRows.length != texts.size()) {
            throw new IllegalArgumentException("tower '" + promptTower + "' encoded " + texts.size() + " prompts into "
                    + promptRows.length + " rows");
        }
        float[][] classRows = new float[classNames.size()][];
        for (int c = 0; c < classRows.length; c++) {
            double[] mean = new double[promptRows[0].length];
            for (int t = 0; t < prompts.size(); t++) {
                float[] row = promptRows[c * prompts.size() + t];
                for (int j = 0; j < mean.length; j++) {
                    mean[j] += row[j];
                }
            }
            classRows[c] = EvalSet.unitFloats(mean);
        }
        return classRows;
    }

    /**
     * Class names as metric names: characters MLflow refuses (and '/', which would nest the name)
     * become '_'; a name that then clashes with an earlier one gets its label appended.
     */
    static List<String> metricNames(List<String> classNames) {
        List<String> names = new ArrayList<>();
        Set<String> taken = new HashSet<>();
        for (int c = 0; c < classNames.size(); c++) {
            String name = classNames.get(c).replaceAll("[^A-Za-z0-9_. :-]", "_");
            if (!taken.add(name)) {
                name = name + "_" + c;
                taken.add(name);
            }
            names.add(name);
        }
        return names;
    }

    private static List<String> readClasses(Path baseDir, String classesFile) {
        Path file = baseDir == null ? Path.of(classesFile) : baseDir.resolve(classesFile);
        if (!Files.isRegularFile(file)) {
            throw new InvalidParamException("classes_file", "no file " + file.toAbsolutePath().normalize()
                    + "; give a path relative to the experiment file, to a text file with one class name per line");
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidParamException("classes_file", "cannot read " + file + ": " + e.getMessage());
        }
        List<String> names = lines.stream().map(String::strip).filter(line -> !line.isEmpty()).toList();
        return checkClasses("classes_file", names);
    }

    private static List<String> checkClasses(String key, List<String> classes) {
        if (classes.isEmpty()) {
            throw new InvalidParamException(key, "names no class; list one name per class, label i at index i");
        }
        Set<String> seen = new HashSet<>();
        for (String name : classes) {
            if (name == null || name.isBlank()) {
                throw new InvalidParamException(key, "has an empty class name in " + classes + "; name every class");
            }
            if (!seen.add(name)) {
                throw new InvalidParamException(key, "names the class '" + name + "' twice; each label needs its own name");
            }
        }
        return List.copyOf(classes);
    }
}
