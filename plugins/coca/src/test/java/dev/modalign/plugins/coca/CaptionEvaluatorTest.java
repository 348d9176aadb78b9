package dev.modalign.plugins.coca;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.EvalResult;
import dev.modalign.api.Evaluator;
import dev.modalign.testkit.FixedEvalContext;
import dev.modalign.testkit.LossFixtures;
import dev.modalign.testkit.ManagerPerTest;
import dev.modalign.testkit.TestContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evaluator captions held-out images with the run's decoder and writes them as an artifact, in words. */
class CaptionEvaluatorTest extends ManagerPerTest {

    @TempDir
    Path dir;

    @Test
    void captionsComeOutAsAnArtifactInWords() throws IOException {
        int vocabulary = 64;
        CaptioningLoss loss = (CaptioningLoss) LossFixtures.newLoss(CocaPlugin.CAPTIONING,
                new CaptioningLoss.Params(16, 1, 2, vocabulary, 6), TestContext.builder().optTowers(
                        List.of("image", "text")).optEmbedDims(Map.of("image", 6, "text", 4)).optSeed(3).build(),
                manager);
        // Tied embeddings make a chain: red, frog and the end id are the unit directions 0, 1, 2 (times 8); each
        // position's embedding cancels the previous word and points at the next (strongly, against the small
        // random attention and MLP residuals), so greedy decoding says "red frog" and stops.
        int red = WordVocabulary.id("red", vocabulary);
        int frog = WordVocabulary.id("frog", vocabulary);
        NDArray table = loss.decoder().parameters().get(0).getArray();
        NDArray positions = loss.decoder().parameters().get(1).getArray();
        float[] rows = new float[vocabulary * 16];
        float[] places = new float[6 * 16];
        rows[red * 16] = 8;
        rows[frog * 16 + 1] = 8;
        rows[CaptioningLoss.END * 16 + 2] = 8;
        places[0] = 20; // after the start id: red
        places[16] = -8; // after red: frog
        places[16 + 1] = 20;
        places[2 * 16 + 1] = -8; // after frog: the end
        places[2 * 16 + 2] = 20;
        table.set(rows);
        positions.set(places);
        Files.writeString(dir.resolve("train.csv"), "image,caption\na.png,\"A red, red frog.\"\nb.png,A cat.\n");
        Evaluator evaluator = CocaPlugin.CAPTIONS.create(new CaptionEvaluator.Params(2, "train.csv", "caption", true),
                TestContext.builder().optTowers(List.of("image")).optBaseDir(dir).build());
        FixedEvalContext context = new FixedEvalContext(manager).tower("image", manager.zeros(new Shape(3, 6)))
                .tokens("image", manager.randomNormal(new Shape(3, 2, 6)).mul(0.01f), manager.ones(new Shape(3, 2)))
                .groupIds("frog-1", "frog-2", "cat").towers("image");
        EvalResult result = evaluator.evaluate(context);
        assertEquals(1, result.artifacts().size());
        Path file = result.artifacts().get(0);
        assertEquals("captions.tsv", file.getFileName().toString());
        List<String> lines = Files.readAllLines(file);
        assertEquals(List.of("id\tcaption\tids", "frog-1\tred frog\t" + red + " " + frog,
                "frog-2\tred frog\t" + red + " " + frog), lines);
        assertEquals(2.0, result.metrics().get("mean_length"));
        assertEquals(0.5, result.metrics().get("distinct"));
    }

    @Test
    void idsNoManifestWordGivesAreWrittenAsIds() {
        assertEquals("<9> <10>", WordVocabulary.empty().text(new int[] {9, 10}));
        assertEquals(List.of("a", "red", "red", "frog"), WordVocabulary.words("A red, red frog.", true));
    }
}
