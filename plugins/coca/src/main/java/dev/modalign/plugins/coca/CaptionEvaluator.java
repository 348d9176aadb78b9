package dev.modalign.plugins.coca;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.Default;
import dev.modalign.api.Doc;
import dev.modalign.api.EvalContext;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.TowerOutput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Captions for held-out images, decoded greedily by the run's {@code coca-captioning} decoder from the image
 * tower's token features, written to {@code captions.tsv} (record id, caption, ids) that the host logs with the
 * run as an artifact. CoCa ("CoCa: Contrastive Captioners are Image-Text Foundation Models", Yu et al., 2022)
 * captions zero-shot from the same decoder.
 *
 * <p>The decoder is the captioning loss's parameters; a loss and an evaluator of one run reach each other only
 * through their plugin, which hands the run's last created captioning loss to this evaluator (one run per
 * process, as the launcher and sweeps run them). Metrics: {@code mean_length} (words per caption) and {@code
 * distinct} (the share of distinct captions, which is low when the decoder says the same thing for every
 * image).
 */
public final class CaptionEvaluator implements Evaluator {

    /** The evaluator's YAML keys. */
    public record Params(
            @Doc("How many evaluation records to caption, from the first") @Default("20") int count,
            @Doc("A CSV manifest (relative to the experiment file) whose captions give the words of the ids the"
                    + " word tokenizer hashed; without it captions are written as ids") @Default("") String vocabulary,
            @Doc("The caption column of the vocabulary manifest") @Default("caption") String field,
            @Doc("Lower-case before hashing, as the text modality's lowercase") @Default("true") boolean lowercase) {
        public Params {
            if (count <= 0) {
                throw new InvalidParamException("count", "must be > 0, found " + count);
            }
        }
    }

    private final Params params;
    private final String tower;
    private final Path baseDir;
    private final Supplier<CaptioningLoss> captioner;

    CaptionEvaluator(Params params, ComponentContext context, Supplier<CaptioningLoss> captioner) {
        List<String> towers = context.towers();
        if (towers.size() != 1) {
            throw new InvalidParamException("towers", "coca-captions captions the images of one tower, found "
                    + towers + "; e.g. [image]");
        }
        this.params = params;
        this.tower = towers.get(0);
        this.baseDir = context.baseDir();
        this.captioner = captioner;
    }

    @Override
    public boolean needsTokens() {
        return true;
    }

    @Override
    public EvalResult evaluate(EvalContext context) {
        CaptioningLoss loss = captioner.get();
        if (loss == null) {
            throw new IllegalStateException("coca-captions needs a coca-captioning loss in the same run, whose decoder"
                    + " it captions with");
        }
        TowerOutput images = context.tokenOutputs(tower).orElseThrow(() -> new IllegalStateException(
                "tower '" + tower + "' gives no token features to caption from"));
        CaptionDecoder decoder = loss.decoder();
        long n = Math.min(params.count(), images.tokens().getShape().get(0));
        NDArray memory = images.tokens().get(new NDIndex(":" + n));
        NDArray mask = images.tokenMask() == null ? null : images.tokenMask().get(new NDIndex(":" + n));
        int[][] captions = decoder.greedy(memory, mask, CaptioningLoss.START, CaptioningLoss.END);
        WordVocabulary vocabulary = params.vocabulary().isEmpty() ? WordVocabulary.empty()
                : WordVocabulary.fromManifest(baseDir.resolve(params.vocabulary()), params.field(),
                        decoder.vocabularySize(), params.lowercase());
        List<String> ids = context.groupIds();
        StringBuilder tsv = new StringBuilder("id\tcaption\tids\n");
        Set<String> distinct = new HashSet<>();
        double words = 0;
        for (int i = 0; i < captions.length; i++) {
            String text = vocabulary.text(captions[i]);
            distinct.add(text);
            words += captions[i].length;
            StringBuilder idList = new StringBuilder();
            for (int id : captions[i]) {
                idList.append(idList.length() == 0 ? "" : " ").append(id);
            }
            tsv.append(ids.get(i).replace('\t', ' ')).append('\t').append(text).append('\t').append(idList)
                    .append('\n');
        }
        Path file = context.artifactDir().resolve("captions.tsv");
        try {
            Files.writeString(file, tsv, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, Double> metrics = new TreeMap<>();
        metrics.put("mean_length", words / captions.length);
        metrics.put("distinct", (double) distinct.size() / captions.length);
        return new EvalResult(metrics, List.of(file));
    }
}
